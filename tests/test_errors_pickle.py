"""Every exception type of the package survives pickling, so a campaign worker can hand any
error back to its parent instead of killing the pool."""

from __future__ import annotations

import importlib
import inspect
import pickle
import pkgutil
import uuid

import pytest

import vsssim
from vsssim.errors import (
    ConfigurationError,
    DeleteSnapshotsError,
    HResult,
    ImageNotKept,
    Livelock,
    ReplayError,
    StateTableError,
    VssError,
    VssimError,
    WriterFailure,
)
from vsssim.host.scenario_file import ScenarioFileError
from vsssim.requesters.restore_methods import NotRestorable
from vsssim.requesters.writer_status_policy import WriterStatusFailure
from vsssim.rpc.framing import FramingError
from vsssim.rpc.params import ParamError
from vsssim.testing.fuzz import RunHung
from vsssim.testing.stateful_steps import Unrecordable
from vsssim.vss.providers.xp.pairs import PairCommand, PairCommandError, PairState

SAMPLES: list[BaseException] = [
    FramingError(-32700, "the line is not JSON"),
    ParamError("object: not a handle", HResult.E_INVALIDARG),
    VssimError("plain"),
    VssError(HResult.VSS_E_BAD_STATE, "called out of order"),
    WriterFailure(HResult.VSS_E_WRITERERROR_RETRYABLE, "busy"),
    WriterFailure(HResult.VSS_E_WRITERERROR_TIMEOUT),
    ConfigurationError("a file on no volume"),
    ReplayError("the token ends early"),
    ImageNotKept("volume 'D:' kept no image of instant 7"),
    Livelock("1000 events at one instant", 5_000_000, 1000, ("writer X OnFreeze",)),
    PairCommandError("00:10/00:20", PairState.PAIR, PairCommand.CREATE),
    ScenarioFileError("f.toml: volumes[0]: bad"),
    RunHung("the run took more than 120 s of real time"),
    Unrecordable("a object"),
    StateTableError("shadow copy", "D: 1", "VSS_SS_PREPARING", "CommitSnapshots"),
    NotRestorable("VSS_RME_RESTORE_IF_NOT_THERE: D:\\a.db is on disk"),
    WriterStatusFailure(HResult.VSS_E_WRITERERROR_RETRYABLE, "SQL is failed: trying again", True),
    DeleteSnapshotsError(
        HResult.VSS_E_PROVIDER_VETO,
        "the provider refused",
        1,
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
    ),
]


def _package_exception_types() -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for info in pkgutil.walk_packages(vsssim.__path__, "vsssim."):
        if info.name.endswith("__main__"):
            continue  # running it is the CLI
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                found.add(obj)
    return found


@pytest.mark.parametrize("error", SAMPLES, ids=lambda e: type(e).__name__)
def test_each_error_pickles_with_its_fields(error: BaseException) -> None:
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error)
    assert str(again) == str(error)
    assert vars(again) == vars(error)


def test_every_public_exception_type_has_a_pickling_sample() -> None:
    """A new exception type must be added to SAMPLES (and so be shown to pickle)."""
    public = {t for t in _package_exception_types() if not t.__name__.startswith("_")}
    sampled = {type(e) for e in SAMPLES}
    assert public <= sampled, sorted(t.__name__ for t in public - sampled)


def test_private_exception_types_pickle_too() -> None:
    private = {t for t in _package_exception_types() if t.__name__.startswith("_")}
    assert private, "the walk found the package's private exception types"
    for kind in private:
        again = pickle.loads(pickle.dumps(kind("why")))
        assert type(again) is kind and str(again) == "why"
