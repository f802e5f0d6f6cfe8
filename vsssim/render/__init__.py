"""Renderers of a run: narrated text and JSON lines."""

from vsssim.render.jsonl import render_jsonl
from vsssim.render.text import PHASE_TITLES, render_text

__all__ = ["PHASE_TITLES", "render_jsonl", "render_text"]
