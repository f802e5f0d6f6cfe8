"""The requesters know providers only through the provider interface: a provider's product
options travel to it opaque, and the agent reads only what ``SetOptions`` says of them."""

from __future__ import annotations

import pytest

from tests.test_layers_hooks import _imports_of, _modules_under, _within
from vsssim.errors import ConfigurationError
from vsssim.requesters.backup_options import AgentOptions
from vsssim.vss.constants import Context
from vsssim.vss.providers.base import SetOptions
from vsssim.vss.providers.xp import ReplicaOptions

#: The XP product's own requester: instant recovery works on the array's pairs themselves.
XP_REQUESTERS = ("vsssim.requesters.instant_recovery",)


@pytest.mark.parametrize(
    "module", [m for m in _modules_under("vsssim.requesters") if m not in XP_REQUESTERS]
)
def test_no_requester_module_imports_the_xp_provider(module: str) -> None:
    found = _imports_of(module)  # TYPE_CHECKING blocks and function bodies included
    assert sorted(m for m in found if _within(m, ("vsssim.vss.providers.xp",))) == []


def test_the_xp_replica_options_are_set_options() -> None:
    options = ReplicaOptions(track_for_instant_recovery=True)
    assert isinstance(options, SetOptions)
    assert options.keeps and options.track_for_instant_recovery
    assert not isinstance(object(), SetOptions)


class _Kept:
    """A product's own options, of no provider vsssim ships."""

    keeps = True
    track_for_instant_recovery = False


def test_any_provider_s_set_options_are_taken_and_checked_alike() -> None:
    assert AgentOptions(context=Context.APP_ROLLBACK, replica=_Kept()).keeps_snapshots
    with pytest.raises(ConfigurationError, match="needs a persistent context"):
        AgentOptions(replica=_Kept())
    with pytest.raises(ConfigurationError, match="replica: expected ReplicaOptions or None"):
        AgentOptions(replica="keep")  # type: ignore[arg-type]
