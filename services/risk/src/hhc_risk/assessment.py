"""The victim risk assessment (policy 3.3). Pure: no I/O.

Modelled on the anti-social behaviour victim risk assessment matrices used by police
and social landlords: yes/no questions with weights, a score, thresholds kept here as
data, and a few answers that make the risk high whatever the score. Immediate danger
always gives high (3.3.1).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from hhc_contracts.vocabulary import Classification, IncidentCategory, RiskLevel, is_recognised


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    text: str
    weight: int
    makes_high: bool = False


QUESTIONS: tuple[Question, ...] = (
    Question("repeat_victimisation", "Has this happened before, or is it ongoing?", 3),
    Question(
        "vulnerability",
        "Is the survivor vulnerable through age, disability, mental health or isolation?",
        3,
    ),
    Question("children_in_household", "Are there children in the household?", 2),
    Question("impact_on_health", "Is it affecting the survivor's physical or mental health?", 3),
    Question("impact_on_daily_life", "Has the survivor changed their daily routine?", 2),
    Question("fear_for_safety", "Does the survivor fear for their safety?", 3),
    Question("threats_of_violence", "Have there been threats of violence?", 4),
    Question("use_of_violence", "Has violence been used?", 5, makes_high=True),
    Question("weapons", "Have weapons been used or threatened?", 5, makes_high=True),
    Question("arson", "Has there been arson, or a threat of it?", 5, makes_high=True),
    Question(
        "hate_motivation",
        "Does the survivor perceive hostility to who they are (3.1.3)?",
        3,
    ),
)

QUESTION_KEYS = frozenset(question.key for question in QUESTIONS)

# Lowest score for each level, highest level first.
THRESHOLDS: tuple[tuple[RiskLevel, int], ...] = ((RiskLevel.HIGH, 15), (RiskLevel.MEDIUM, 6))

# How soon a case is reviewed at each level; standard-risk cases have no set review.
REVIEW_INTERVAL: Mapping[RiskLevel, timedelta] = {
    RiskLevel.HIGH: timedelta(days=14),
    RiskLevel.MEDIUM: timedelta(days=28),
}

Answers = Mapping[str, bool]


def review_interval(level: RiskLevel) -> timedelta | None:
    """How soon a case at ``level`` is reviewed; None when it has no set review. A level
    the vocabulary does not know is treated as the highest: reviewed soonest (3.3)."""
    if not is_recognised(level):
        level = RiskLevel.HIGH
    return REVIEW_INTERVAL.get(level)


@dataclass(frozen=True, slots=True)
class Assessment:
    level: RiskLevel
    score: int
    reasons: tuple[str, ...]


class UnknownQuestion(ValueError):
    pass


def assess(answers: Answers, *, immediate_danger: bool) -> Assessment:
    unknown = set(answers) - QUESTION_KEYS
    if unknown:
        raise UnknownQuestion(f"unknown questions: {', '.join(sorted(unknown))}")
    yes = [question for question in QUESTIONS if answers.get(question.key)]
    score = sum(question.weight for question in yes)
    reasons = tuple(question.text for question in yes)
    if immediate_danger:
        return Assessment(RiskLevel.HIGH, score, ("Immediate danger (3.3.1)", *reasons))
    if any(question.makes_high for question in yes):
        return Assessment(RiskLevel.HIGH, score, reasons)
    for level, lowest_score in THRESHOLDS:
        if score >= lowest_score:
            return Assessment(level, score, reasons)
    return Assessment(RiskLevel.STANDARD, score, reasons)


def answers_from_report(
    *,
    categories: frozenset[IncidentCategory],
    classification: Classification,
    ongoing: bool,
    vulnerable_adult: bool,
    children_in_household: bool,
    immediate_danger: bool,
) -> dict[str, bool]:
    """What the report itself answers, for the automatic first assessment."""
    return {
        "repeat_victimisation": ongoing,
        "vulnerability": vulnerable_adult,
        "children_in_household": children_in_household,
        "fear_for_safety": immediate_danger,
        "threats_of_violence": IncidentCategory.THREATS_OF_VIOLENCE in categories,
        "use_of_violence": IncidentCategory.PHYSICAL_ATTACK in categories,
        "arson": IncidentCategory.ARSON in categories,
        # A classification the vocabulary does not know counts as hate: it raises the
        # score rather than lowering it (3.1.3).
        "hate_motivation": classification is not Classification.HARASSMENT,
    }
