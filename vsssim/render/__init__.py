"""Renderers of a run: narrated text, JSON lines, a Mermaid sequence diagram, state diagrams."""

from vsssim.render.jsonl import render_jsonl
from vsssim.render.sequence import render_mermaid
from vsssim.render.text import PHASE_TITLES, render_text, section_of

__all__ = ["PHASE_TITLES", "render_jsonl", "render_mermaid", "render_text", "section_of"]
