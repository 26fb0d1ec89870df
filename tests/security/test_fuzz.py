"""Bounded fuzzing in CI (tests/security/fuzz.py says what and how).

FIXPLUS_FUZZ_EXAMPLES sets the examples per target (default 750: 3,000
executions over the four targets, under a minute); tests/security/fuzz_long.py
runs long campaigns and prints the execution counts.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.realparts import missing
from tests.unit.session_harness import Solo
from tests.unit.session_harness import settings as session_settings

from .fuzz import (
    APP_MESSAGES,
    SessionCase,
    _spec,
    check_decode,
    check_framer,
    check_session,
    check_validator,
    mutated,
    session_case,
    templates,
)

EXAMPLES = int(os.environ.get("FIXPLUS_FUZZ_EXAMPLES", "750"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

_BASES = templates(Solo(session_settings("acceptor", "BROKER", "CLIENT")))
streams = st.lists(st.sampled_from(_BASES).flatmap(mutated), min_size=1, max_size=4).map(
    b"".join)


@FUZZ
@given(streams, st.lists(st.integers(1, 300), min_size=1, max_size=5),
       st.sampled_from([1 << 20, 4096, 200]))
def test_framer_never_raises_and_both_cutters_agree(data: bytes, chunks: list[int],
                                                    max_size: int) -> None:
    check_framer(data, chunks, max_size)


@FUZZ
@given(st.sampled_from(_BASES).flatmap(mutated))
def test_decoder_raises_only_garbled_and_both_paths_agree(frame: bytes) -> None:
    check_decode(frame)


@FUZZ
@given(st.sampled_from(APP_MESSAGES + _BASES).flatmap(mutated),
       st.sampled_from(["FIX42", "FIX44", "FIX50SP2"]))
def test_validators_answer_with_a_reject_never_an_exception(frame: bytes, version: str) -> None:
    if not (_spec() / f"{version}.xml").is_file():
        missing(f"{version} dictionary not found in {_spec()} (FIXPLUS_SPEC_DIR)")
    check_validator(frame, version)


def test_the_dictionary_is_there() -> None:
    if not (_spec() / "FIX44.xml").is_file():
        missing(f"FIX.4.4 dictionary not found in {_spec()} (FIXPLUS_SPEC_DIR)")


@FUZZ
@given(session_case())
def test_session_survives_hostile_messages(case: SessionCase) -> None:
    if case.validated and not (_spec() / "FIX44.xml").is_file():
        missing(f"FIX.4.4 dictionary not found in {_spec()} (FIXPLUS_SPEC_DIR)")
    check_session(case)


def test_the_long_run_prints_its_counts(capsys: object) -> None:
    import json

    from tests.security import fuzz_long

    assert fuzz_long.main(["--examples", "3", "--target", "decode"]) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]  # type: ignore[attr-defined]
    report = json.loads(out)
    assert report["executions"]["decode"] >= 3 and report["failures"] == []
