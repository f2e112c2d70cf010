"""What every command of the CLI shares: one-line argument errors, the routing flags
(generated from :data:`dimee_core.config.PARAMS`) and the configuration they make."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import fields

from . import config
from .cache import load_cache
from .config import COST_PARAMS, DIMEEConfig
from .costs import PRESETS
from .profiles import PRESETS as PROFILES
from .profiles import load_profile


class UsageError(ValueError):
    """A command-line value is out of range."""


def finite(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return v


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line (no usage dump)."""

    def error(self, message: str):
        self.exit(2, f"error: {message}\n")


def add_config_flags(p) -> None:
    """The routing settings, one flag per :data:`config.PARAMS` entry that has one;
    unset ones take the cache's stored settings (``eval_config``)."""
    for prm in config.PARAMS:  # read at call time: a test may add one
        if prm.cli:
            p.add_argument(prm.cli, dest=prm.name, choices=prm.choices or None,
                           type=None if prm.choices else cli_type(prm), help=prm.help)
    p.add_argument("--preset", choices=sorted(PRESETS), help="a named cost model")
    p.add_argument("--profile", help="device-and-network profile for real units: a preset "
                                     f"({', '.join(PROFILES)}) or a profile JSON file")


def cli_type(prm):
    """argparse's type for one setting: its parser, errors as one line."""
    def parse(text: str):
        try:
            return prm.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} {exc}") from None
    parse.__name__ = prm.kind.__name__  # argparse names the type in its messages
    return parse


def load(path: str):
    """A validated cache; what makes it suspicious (see load_cache) goes to stderr."""
    cache = load_cache(path)
    for warning in cache.warnings:
        print(f"warning: {path}: {warning}", file=sys.stderr)
    return cache


def eval_config(args, cache) -> DIMEEConfig:
    base = DIMEEConfig.for_cache(cache)
    costs = PRESETS[args.preset] if args.preset else base.costs
    cost_over = {p.name: getattr(args, p.name) for p in COST_PARAMS
                 if getattr(args, p.name) is not None}
    over = {f.name: getattr(args, f.name) for f in fields(DIMEEConfig)
            if f.name not in ("costs", "profile") and getattr(args, f.name, None) is not None}
    d = {**base.to_dict(), **over, "costs": {**costs.to_dict(), **cost_over}}
    if args.profile:
        d["profile"] = load_profile(args.profile).to_dict()
    cfg = DIMEEConfig.from_dict(d)
    L, N = cache.num_layers, cache.calibration.n
    if not 1 <= cfg.m < cfg.n < L:
        raise UsageError(f"split points need 1 <= m < n < L={L}, got m={cfg.m}, n={cfg.n}")
    if not 1 <= cfg.k <= N:
        raise UsageError(f"k must be in [1, {N}] (the calibration size), got {cfg.k}")
    return cfg


class DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help shows every option's default (argparse only does so for options with help)."""

    def _get_help_string(self, action):
        if action.default is None or "default" in (action.help or ""):
            return action.help
        if not action.help and action.option_strings:
            action.help = " "
        return super()._get_help_string(action)
