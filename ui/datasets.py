"""The data-set registry: shipped caches under cache/ plus the ones a session loaded."""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dimee_core.cache import list_caches
from ui import memo
from ui.text import md

CACHE_ROOT = Path(os.environ.get("DIMEE_CACHE_ROOT", memo.APP_DIR / "cache"))  # tests, demos
DEFAULT_DATASET = "rt-snippets"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
SERVER_PATHS_ENV = "DIMEE_SERVER_PATHS"  # "1": allow opening cache folders by path


def shipped() -> dict[str, str]:
    """Shipped caches under cache/ (name -> path)."""
    return {p.name: str(p) for p in list_caches(CACHE_ROOT)}


def datasets() -> dict[str, str]:
    """Shipped caches plus any the user loaded this session (name -> path)."""
    found = shipped()
    found.update({name: path for name, path in st.session_state.get("user_caches", {}).items()
                  if os.path.isdir(path)})  # a replaced upload is gone
    return found


def server_paths_allowed() -> bool:
    """Opening a server folder by path is opt-in (DIMEE_SERVER_PATHS=1) and only ever
    offered when the server listens on loopback, i.e. to someone on this machine."""
    address = st.get_option("server.address") or ""
    return os.environ.get(SERVER_PATHS_ENV) == "1" and address in LOOPBACK


def public_error(exc: Exception, path: str | Path, shown_as: str) -> str:
    """An error text with a server folder replaced by the name the user knows, escaped
    for Markdown (never echo server paths)."""
    return md(str(exc).replace(str(path), shown_as), limit=400)


def default_dataset(names: list[str]) -> str | None:
    return DEFAULT_DATASET if DEFAULT_DATASET in names else (names[0] if names else None)


def register_user_cache(path: str | Path, label: str | None = None) -> str:
    """Validate a cache folder and add it to this session's dataset list."""
    cache = memo.load(str(path))
    name = label or f"{cache.name} (yours)"
    st.session_state.setdefault("user_caches", {})[name] = str(path)
    return name
