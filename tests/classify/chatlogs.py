"""Multi-agent chat logs written here, in the layouts public datasets publish them in.

`magentic_run` is a run in the layout of Who&When's hand-crafted split (Magentic-One logs): the
speaker's name in `role` (with the orchestrator's channel in parentheses), the failure flag
`is_corrected`, labels `mistake_agent`, `mistake_step` (a 0-based index into `history`, as a
string), `mistake_reason`, `question`, `ground_truth`. The log is invented: a web surfer that
keeps landing on the wrong page, an orchestrator whose progress ledger notices it.
"""

from __future__ import annotations

import json


def ledger(satisfied=False, loop=False, progress=True, speaker="WebSurfer",
           instruction="Search for the 2019 annual report of the museum.", reason=""):
    """One Magentic-One progress ledger, as its orchestrator writes it into the log."""
    return "Updated Ledger:\n" + json.dumps({
        "is_request_satisfied": {"reason": "The count is not known yet.", "answer": satisfied},
        "is_in_loop": {"reason": reason if loop else "Each step did something new.",
                       "answer": loop},
        "is_progress_being_made": {"reason": reason if not progress else "New facts arrived.",
                                   "answer": progress},
        "next_speaker": {"reason": "The web surfer can browse.", "answer": speaker},
        "instruction_or_question": {"reason": "Next step of the plan.", "answer": instruction},
    }, indent=2)


def magentic_history(stall=True, loop=False) -> list[dict]:
    """Turns 0-13; with `stall` the ledger at 9 says no progress, naming the WebSurfer's turn
    at 8; with `loop` it says the run is in a loop instead (the instruction first given at 3)."""
    search = "Search for the 2019 annual report of the museum."
    history = [
        {"role": "human", "content": "How many visitors did the museum have in 2019?"},
        {"role": "Orchestrator (thought)", "content": "Initial plan:\n\nWe are working to "
         "address the following user request: how many visitors ... Here is the plan to "
         "follow as best as possible:\n- WebSurfer searches the annual report\n- read it"},
        {"role": "Orchestrator (thought)", "content": ledger(instruction=search)},
        {"role": "Orchestrator (-> WebSurfer)", "content": search},
        {"role": "WebSurfer", "content": "I typed 'museum annual report 2019' into the search "
         "box. The page shows a list of results about the museum shop opening hours."},
        {"role": "Orchestrator (thought)", "content": ledger(instruction="Open the second "
         "result, the annual report PDF.")},
        {"role": "Orchestrator (-> WebSurfer)", "content": "Open the second result, the annual "
         "report PDF."},
        {"role": "Orchestrator (thought)", "content": "Next speaker WebSurfer"},
        {"role": "WebSurfer", "content": "I clicked 'Annual report'. The page shows the 2018 "
         "report: 1.2 million visitors."},
        {"role": "Orchestrator (thought)", "content": ledger(
            progress=not stall or loop, loop=loop, instruction=search,
            reason="The WebSurfer opened the 2018 report instead of 2019; we keep searching.")},
        {"role": "Orchestrator (-> WebSurfer)", "content": search},
        {"role": "WebSurfer", "content": "I typed 'museum report 2019'. Results about the shop."},
        {"role": "Orchestrator (thought)", "content": "Request satisfied."},
        {"role": "Orchestrator (termination condition)", "content": "FINAL ANSWER: 1.2 million"},
    ]
    return history


def magentic_run(**kw) -> dict:
    return {
        "is_corrected": False,
        "question": "How many visitors did the museum have in 2019?",
        "question_ID": "0b1c-museum",
        "level": "1",
        "ground_truth": "1.4 million",
        "history": magentic_history(**kw),
        "mistake_agent": "WebSurfer",
        "mistake_step": "8",
        "mistake_reason": "It took the 2018 report for the 2019 one.",
    }
