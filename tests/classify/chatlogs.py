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
           instruction="Search for the 2019 annual report of the museum.", reason="",
           satisfied_reason="The count is not known yet."):
    """One Magentic-One progress ledger, as its orchestrator writes it into the log."""
    return "Updated Ledger:\n" + json.dumps({
        "is_request_satisfied": {"reason": satisfied_reason, "answer": satisfied},
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


# --- Magentic-One logs as its orchestrator writes them ------------------------------------------
# The event sources and texts follow autogen-magentic-one's LedgerOrchestrator: "Initial plan:"
# with the team, a fact sheet and a plan; before each turn an "Updated Ledger:" JSON, the
# instruction on the "-> <worker>" channel and "Next speaker <worker>"; "Stalled.... Replanning..."
# and "New plan:" after repeated stalls; "(termination condition)" when it stops; and the answer
# on a "(final answer)" channel. The tasks and pages are invented.

TEAM = (
    "Assistant: A helpful and general-purpose AI assistant that has strong language skills, "
    "Python skills, and Linux command line skills.\n"
    "ComputerTerminal: A computer terminal that performs no other action than running Python "
    "scripts (provided to it quoted in ```python code blocks), or sh shell scripts (provided to "
    "it quoted in ```sh code blocks)\n"
    "FileSurfer: An agent that can handle local files.\n"
    "WebSurfer: A helpful assistant with access to a web browser. Ask them to perform web "
    "searches, open pages, and interact with content (e.g., clicking links, scrolling the "
    "viewport, etc., filling in form fields, etc.)"
)


def plan_sheet(question: str, guess: str = "None.", heading: str = "Initial plan") -> str:
    return (
        f"{heading}:\n\nWe are working to address the following user request:\n\n{question}"
        f"\n\n\nTo answer this request we have assembled the following team:\n\n{TEAM}\n\n\n"
        "Here is an initial fact sheet to consider:\n\n1. GIVEN OR VERIFIED FACTS\n- The "
        "request names the place and the year.\n\n2. FACTS TO LOOK UP\n- The figure, in an "
        "official source.\n\n3. FACTS TO DERIVE\n- None.\n\n4. EDUCATED GUESSES\n- "
        f"{guess}\n\n\nHere is the plan to follow as best as possible:\n\n- WebSurfer finds "
        "the official source and reads the figure.\n- Assistant checks it and answers."
    )


def page(address: str, title: str, text: str) -> str:
    """A WebSurfer report: what it did, then the page it sees."""
    return (f"{address}\n\nHere is a screenshot of [{title}]({address.split()[-1]}). The "
            "viewport shows 100% of the webpage, and is positioned at the top of the page.\n"
            f"The following text is visible in the viewport:\n\n{text}")


class MagenticLog:
    """Builds a Magentic-One history turn by turn; `at` remembers where a turn landed."""

    def __init__(self, question: str, guess: str = "None."):
        self.question = question
        self.history = [{"role": "human", "content": question},
                        {"role": "Orchestrator (thought)", "content": plan_sheet(question, guess)}]
        self.at: dict[str, int] = {}

    def add(self, role: str, content: str, name: str | None = None) -> int:
        self.history.append({"role": role, "content": content})
        if name:
            self.at[name] = len(self.history) - 1
        return len(self.history) - 1

    def turn(self, worker: str, instruction: str, reply: str, progress=True, loop=False,
             reason="", name: str | None = None) -> int:
        """A ledger judging the turn before, the instruction, "Next speaker", the reply."""
        self.add("Orchestrator (thought)", ledger(
            progress=progress, loop=loop, speaker=worker, instruction=instruction,
            reason=reason))
        self.add(f"Orchestrator (-> {worker})", instruction)
        self.add("Orchestrator (thought)", f"Next speaker {worker}")
        return self.add(worker, reply, name)

    def replan(self, guess: str = "None.") -> None:
        self.add("Orchestrator (thought)", ledger(progress=False, reason="Nothing new came back."))
        self.add("Orchestrator (thought)", "Stalled.... Replanning...")
        self.add("Orchestrator (thought)", plan_sheet(self.question, guess, heading="New plan"))

    def finish(self, answer: str, satisfied=True, reason: str = "No agent selected.",
               why_satisfied: str = "The answer is known.", answer_message=True) -> dict:
        if satisfied:
            self.add("Orchestrator (thought)", ledger(satisfied=True,
                                                      satisfied_reason=why_satisfied))
            self.add("Orchestrator (thought)", "Request satisfied.")
        self.add("Orchestrator (termination condition)", reason)
        if answer_message:
            self.add("Orchestrator (final answer)", f"\nFINAL ANSWER: {answer}\n")
        return {"is_corrected": False, "question": self.question, "question_ID": "gaia-x",
                "level": "1", "ground_truth": "unknown to the run", "history": self.history}


def magentic_wrong_fact(answer_message=True) -> tuple[dict, int]:
    """The surfer reads the figure of the wrong year; the orchestrator trusts it and answers.
    Nothing stalls: the mistake is the turn that first said the figure the answer gives.
    Without `answer_message` the log stops at the orchestrator's judgment that the request is
    satisfied, whose reason gives the figure."""
    log = MagenticLog("How many visitors did the Lakeside Museum have in 2019?")
    log.turn("WebSurfer", "Search for the Lakeside Museum's annual report for 2019.", page(
        "I typed 'Lakeside Museum annual report 2019' into the browser search bar.",
        "Lakeside Museum annual report 2019 - Search", "Lakeside Museum - Annual reports\n"
        "Reports from 2015 to 2020 as PDF. Visit us: open daily 10-18."))
    wrong = log.turn("WebSurfer", "Open the annual reports page and read the 2019 figure.", page(
        "I clicked 'Annual reports'.", "Annual reports - Lakeside Museum",
        "Annual report 2018: In 2018 the museum welcomed 1,204,000 visitors, a record."),
        name="wrong")
    log.turn("Assistant", "Check the visitor figure the WebSurfer found and give the answer.",
             "The WebSurfer found that the museum welcomed 1,204,000 visitors. That answers the "
             "request.")
    return log.finish("1204000", answer_message=answer_message, why_satisfied=(
        "The WebSurfer found the 2019 figure: 1,204,000 visitors.")), wrong


def magentic_blocked() -> tuple[dict, int]:
    """The surfer's site answers 403 every time; the orchestrator stalls, replans, gives up and
    guesses: a tool failure at the first blocked turn."""
    log = MagenticLog("What is the population of Brindale according to the 2020 census?")
    blocked = log.turn("WebSurfer", "Open the census bureau's page for Brindale.", page(
        "I typed 'census.example.gov/brindale' into the address bar.", "403 Forbidden",
        "403 Forbidden\nAccess to this resource is denied. Request blocked."), name="blocked")
    log.turn("WebSurfer", "Open the census bureau's page for Brindale again.", page(
        "I typed 'census.example.gov/brindale' into the address bar.", "403 Forbidden",
        "403 Forbidden\nAccess to this resource is denied. Request blocked."),
        progress=False, reason="The WebSurfer could not open the census page: it is blocked.")
    log.replan(guess="Brindale is a small town, probably under 20,000 people.")
    log.turn("WebSurfer", "Try the census bureau's search page for Brindale.", page(
        "I typed 'census.example.gov/search?q=brindale' into the address bar.", "Just a moment",
        "Verify you are human. Complete the CAPTCHA to continue."),
        progress=False, reason="Still blocked.")
    return log.finish("about 18,000", satisfied=False,
                      reason="Replan counter exceeded... Terminating."), blocked


def magentic_failed_script() -> tuple[dict, int]:
    """The assistant's script reads a file that is not there and nobody fixes it; the
    orchestrator answers without the number."""
    log = MagenticLog("How many rows of the attached sales.xlsx are from 2021?")
    script = log.turn("Assistant", "Write a script that counts the 2021 rows of sales.xlsx.",
                      "```python\nimport pandas as pd\ndf = pd.read_excel('sales.xlsx')\n"
                      "print((df['year'] == 2021).sum())\n```", name="script")
    log.turn("ComputerTerminal", "Run the script the Assistant wrote.",
             "The script ran, then exited with Unix exit code: 1\nIts output was:\nTraceback "
             "(most recent call last):\n  File \"tmp_code.py\", line 2, in <module>\n"
             "FileNotFoundError: [Errno 2] No such file or directory: 'sales.xlsx'")
    log.turn("Assistant", "Explain what the output means for the count.",
             "The file could not be read, so the count is unknown.",
             progress=False, reason="The script failed and no count came back.")
    return log.finish("Unable to determine", satisfied=False), script


def magentic_stall_then_wrong_fact() -> tuple[dict, int]:
    """An early stall the run gets past after replanning; then the surfer takes another bridge
    of the same name for the one asked about, and the answer gives its year: that turn, not the
    early stall, is the mistake."""
    log = MagenticLog("In what year did the Harwick bridge open?")
    log.turn("WebSurfer", "Search for the Harwick bridge's history.", page(
        "I typed 'Harwick bridge history' into the browser search bar.", "Harwick - Search",
        "Harwick Golf Club - book a tee time"))
    log.turn("WebSurfer", "Scroll down for results about the bridge.", page(
        "I scrolled down one page.", "Harwick - Search", "Harwick Golf Club - membership"),
        progress=False, reason="The search keeps showing the golf club.")
    log.replan()
    wrong = log.turn("WebSurfer", "Search for 'Harwick bridge opened'.", page(
        "I typed 'Harwick bridge opened' into the browser search bar.",
        "Harwick bridge opened - Search", "Harwick Bridge (Ohio), a covered bridge opened in "
        "1887.") + "\n\nThe Harwick bridge opened in 1887.", name="wrong")
    return log.finish("1887"), wrong
