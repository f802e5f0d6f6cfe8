"""Testing tools: sequence assertions, fuzzing, exploration, invariants, strategies."""

from vsssim.testing.fuzz import CampaignSummary, RunReport, campaign, fuzz_one, replay
from vsssim.testing.sequences import Step, assert_sequence, find_sequence

__all__ = [
    "CampaignSummary",
    "RunReport",
    "Step",
    "assert_sequence",
    "campaign",
    "find_sequence",
    "fuzz_one",
    "replay",
]
