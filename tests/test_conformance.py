"""The conformance driver (bench/conformance.py): its case table is right (every case ends
in memory the way its SpiffWorkflow test says), and a handful of representative models end
the same way through Gridloop's deploy and REST API, with and without the live-workflow
cache (without it every command restores the instance from the database)."""
from __future__ import annotations

import dataclasses
import os

import pytest

from bench import conformance

MODELS = conformance.default_path()
CASES = {case.name: case for case in conformance.CASES}
pytestmark = pytest.mark.skipif(not os.path.isdir(MODELS), reason=f"conformance models not found at {MODELS}")

REPRESENTATIVE = [
    "Approvals: happy path",                                   # call activities, terminate end, lanes
    "Message-Interrupts: message interrupts the task",         # boundary message
    "boundary: interrupting timer on a sub-process",           # engine clock + due-work runner
    "inclusive_gateway: no path from the second gateway",      # the process fails: a 4xx, not a 500
    "parallel multi-instance: list input",                     # end variables
    "receive_correlations: a message matched by correlation",  # correlation by the waiting task's data
    "Parallel-Through-Same-Task: repeated tasks ready together",
    "ParallelGatewayLoopInput: a loop back into a join",       # compaction keeps what a join consults
]


def test_the_table_has_one_case_per_name_and_existing_files():
    assert len(CASES) == len(conformance.CASES) >= 70
    for case in conformance.CASES:
        assert conformance.model_files(MODELS, case)


@pytest.mark.parametrize("name", list(CASES))
def test_in_memory_case_ends_as_its_spiff_test_says(name):
    conformance.run_in_memory(MODELS, CASES[name])


def test_a_wrong_expectation_is_reported():
    case = dataclasses.replace(CASES["parallel multi-instance: list input"], data={"output_data": [2, 4, 7]})
    with pytest.raises(conformance.Differs, match="output_data"):
        conformance.run_in_memory(MODELS, case)


@pytest.mark.parametrize("no_cache", [False, True], ids=["cache", "no-cache"])
@pytest.mark.parametrize("name", REPRESENTATIVE)
def test_through_the_api_it_ends_as_in_memory(name, no_cache, db):
    conformance.run_in_gridloop(MODELS, CASES[name], db, no_cache=no_cache)
