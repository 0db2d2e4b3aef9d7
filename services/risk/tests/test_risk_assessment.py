"""The victim risk assessment matrix (policy 3.3): weights, thresholds kept as data,
questions that make the risk high on their own, immediate danger (3.3.1) always high,
and what a report answers by itself."""

import itertools
from datetime import timedelta

import pytest

from hhc_contracts.vocabulary import Classification, IncidentCategory, RiskLevel
from hhc_risk.assessment import (
    QUESTION_KEYS,
    QUESTIONS,
    REVIEW_INTERVAL,
    THRESHOLDS,
    Assessment,
    Question,
    UnknownQuestion,
    answers_from_report,
    assess,
)

TEXT = {question.key: question.text for question in QUESTIONS}
WEIGHT = {question.key: question.weight for question in QUESTIONS}
MAKES_HIGH = [question for question in QUESTIONS if question.makes_high]
SCORED_ONLY = [question for question in QUESTIONS if not question.makes_high]
LOWEST_SCORE = dict(THRESHOLDS)
DANGER_REASON = "Immediate danger (3.3.1)"


def yes_to(*keys: str) -> dict[str, bool]:
    return dict.fromkeys(keys, True)


def answers_scoring(score: int) -> dict[str, bool]:
    """Yes to questions that do not make the risk high by themselves, adding up to ``score``."""
    for size in range(len(SCORED_ONLY) + 1):
        for chosen in itertools.combinations(SCORED_ONLY, size):
            if sum(question.weight for question in chosen) == score:
                return yes_to(*(question.key for question in chosen))
    raise AssertionError(f"no answers score exactly {score} without a makes-high question")


# --------------------------------------------------------------------------- the questions


def test_question_keys_are_unique() -> None:
    keys = [question.key for question in QUESTIONS]
    assert len(keys) == len(set(keys))
    assert frozenset(keys) == QUESTION_KEYS


def test_question_texts_are_unique_and_asked_as_questions() -> None:
    texts = [question.text for question in QUESTIONS]
    assert len(texts) == len(set(texts))
    assert all(text.strip() and "?" in text for text in texts)


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.key)
def test_every_weight_is_positive(question: Question) -> None:
    assert isinstance(question.weight, int)
    assert question.weight > 0


def test_violence_weapons_and_arson_make_the_risk_high() -> None:
    assert {question.key for question in MAKES_HIGH} == {"use_of_violence", "weapons", "arson"}


# --------------------------------------------------------------------------- thresholds


def test_thresholds_are_high_then_medium_with_falling_scores() -> None:
    assert [level for level, _ in THRESHOLDS] == [RiskLevel.HIGH, RiskLevel.MEDIUM]
    assert LOWEST_SCORE[RiskLevel.HIGH] > LOWEST_SCORE[RiskLevel.MEDIUM] > 0


def test_high_is_reachable_by_score_alone() -> None:
    """A threshold no combination of answers reaches would be dead data."""
    assert sum(question.weight for question in SCORED_ONLY) >= LOWEST_SCORE[RiskLevel.HIGH]


@pytest.mark.parametrize(
    ("threshold_of", "offset", "level"),
    [
        pytest.param(RiskLevel.MEDIUM, -1, RiskLevel.STANDARD, id="medium-1-standard"),
        pytest.param(RiskLevel.MEDIUM, 0, RiskLevel.MEDIUM, id="medium=medium"),
        pytest.param(RiskLevel.MEDIUM, +1, RiskLevel.MEDIUM, id="medium+1-medium"),
        pytest.param(RiskLevel.HIGH, -1, RiskLevel.MEDIUM, id="high-1-medium"),
        pytest.param(RiskLevel.HIGH, 0, RiskLevel.HIGH, id="high=high"),
        pytest.param(RiskLevel.HIGH, +1, RiskLevel.HIGH, id="high+1-high"),
    ],
)
def test_score_at_each_boundary(threshold_of: RiskLevel, offset: int, level: RiskLevel) -> None:
    score = LOWEST_SCORE[threshold_of] + offset
    answers = answers_scoring(score)
    result = assess(answers, immediate_danger=False)
    assert (result.level, result.score) == (level, score)


@pytest.mark.parametrize(
    ("yes", "level", "score"),
    [
        pytest.param((), RiskLevel.STANDARD, 0, id="nothing"),
        pytest.param(("children_in_household",), RiskLevel.STANDARD, 2, id="children-only"),
        pytest.param(("hate_motivation",), RiskLevel.STANDARD, 3, id="hate-motivation-only"),
        pytest.param(
            ("children_in_household", "hate_motivation"), RiskLevel.STANDARD, 5, id="5-standard"
        ),
        pytest.param(
            ("repeat_victimisation", "vulnerability"), RiskLevel.MEDIUM, 6, id="ongoing-vulnerable"
        ),
        pytest.param(
            ("threats_of_violence", "hate_motivation"), RiskLevel.MEDIUM, 7, id="threats-hate"
        ),
        pytest.param(
            (
                "repeat_victimisation",
                "vulnerability",
                "children_in_household",
                "impact_on_health",
                "fear_for_safety",
            ),
            RiskLevel.MEDIUM,
            14,
            id="14-medium",
        ),
        pytest.param(
            (
                "repeat_victimisation",
                "vulnerability",
                "children_in_household",
                "impact_on_health",
                "fear_for_safety",
                "impact_on_daily_life",
            ),
            RiskLevel.HIGH,
            16,
            id="16-high",
        ),
        pytest.param(
            (
                "repeat_victimisation",
                "vulnerability",
                "children_in_household",
                "hate_motivation",
                "threats_of_violence",
            ),
            RiskLevel.HIGH,
            15,
            id="15-high-without-violence",
        ),
        pytest.param(("arson",), RiskLevel.HIGH, 5, id="arson-alone"),
        pytest.param(
            ("use_of_violence", "weapons", "hate_motivation"),
            RiskLevel.HIGH,
            13,
            id="violence-weapons-hate",
        ),
    ],
)
def test_hand_worked_examples(yes: tuple[str, ...], level: RiskLevel, score: int) -> None:
    assert assess(yes_to(*yes), immediate_danger=False) == Assessment(
        level, score, tuple(TEXT[key] for key in TEXT if key in yes)
    )


# --------------------------------------------------------------------------- high whatever


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({}, id="no-answers"),
        pytest.param(dict.fromkeys(QUESTION_KEYS, False), id="all-no"),
        pytest.param(yes_to("children_in_household"), id="low-score"),
        pytest.param(yes_to("repeat_victimisation", "vulnerability"), id="medium-score"),
        pytest.param(yes_to(*QUESTION_KEYS), id="all-yes"),
    ],
)
def test_immediate_danger_is_always_high(answers: dict[str, bool]) -> None:
    result = assess(answers, immediate_danger=True)
    assert result.level is RiskLevel.HIGH
    assert result.reasons[0] == DANGER_REASON
    # Danger decides the level, not the score: the score is still the answers' own.
    assert result.score == assess(answers, immediate_danger=False).score


@pytest.mark.parametrize("question", MAKES_HIGH, ids=lambda q: q.key)
def test_each_makes_high_question_alone_gives_high(question: Question) -> None:
    result = assess(yes_to(question.key), immediate_danger=False)
    assert result == Assessment(RiskLevel.HIGH, question.weight, (question.text,))
    # ... even though its weight alone is below the high threshold.
    assert question.weight < LOWEST_SCORE[RiskLevel.HIGH]


@pytest.mark.parametrize("question", SCORED_ONLY, ids=lambda q: q.key)
def test_each_other_question_alone_does_not_give_high(question: Question) -> None:
    assert assess(yes_to(question.key), immediate_danger=False).level is not RiskLevel.HIGH


def test_no_answers_is_standard_with_score_zero() -> None:
    assert assess({}, immediate_danger=False) == Assessment(RiskLevel.STANDARD, 0, ())


def test_no_counts_as_not_answered() -> None:
    assert assess(dict.fromkeys(QUESTION_KEYS, False), immediate_danger=False) == Assessment(
        RiskLevel.STANDARD, 0, ()
    )


# --------------------------------------------------------------------------- reasons, errors


@pytest.mark.parametrize(
    ("answers", "danger", "reasons"),
    [
        pytest.param(
            {"threats_of_violence": True, "vulnerability": True, "weapons": False},
            False,
            (TEXT["vulnerability"], TEXT["threats_of_violence"]),
            id="yes-texts-in-question-order",
        ),
        pytest.param(
            {"arson": True},
            True,
            (DANGER_REASON, TEXT["arson"]),
            id="danger-first",
        ),
        pytest.param({}, True, (DANGER_REASON,), id="danger-only"),
        pytest.param(
            yes_to(*QUESTION_KEYS),
            False,
            tuple(question.text for question in QUESTIONS),
            id="every-question",
        ),
    ],
)
def test_reasons_list_the_yes_questions(
    answers: dict[str, bool], danger: bool, reasons: tuple[str, ...]
) -> None:
    assert assess(answers, immediate_danger=danger).reasons == reasons


@pytest.mark.parametrize(
    "answers",
    [
        pytest.param({"made_up": True}, id="unknown-yes"),
        pytest.param({"made_up": False}, id="unknown-no"),
        pytest.param({"arson": True, "Arson": True}, id="wrong-case-beside-known"),
    ],
)
@pytest.mark.parametrize("danger", [False, True], ids=["no-danger", "danger"])
def test_unknown_question_is_refused(answers: dict[str, bool], danger: bool) -> None:
    with pytest.raises(UnknownQuestion):
        assess(answers, immediate_danger=danger)


def test_unknown_question_names_the_key_and_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="made_up"):
        assess({"made_up": True, "arson": True}, immediate_danger=False)


# --------------------------------------------------------------------------- from a report

C = IncidentCategory

REPORT_DEFAULTS: dict[str, object] = {
    "categories": frozenset({C.VERBAL_ABUSE}),
    "classification": Classification.HARASSMENT,
    "ongoing": False,
    "vulnerable_adult": False,
    "children_in_household": False,
    "immediate_danger": False,
}


def from_report(**overrides: object) -> dict[str, bool]:
    return answers_from_report(**{**REPORT_DEFAULTS, **overrides})  # type: ignore[arg-type]


def test_a_plain_report_answers_no_to_everything() -> None:
    answers = from_report()
    assert answers
    assert not any(answers.values())


@pytest.mark.parametrize(
    ("overrides", "yes"),
    [
        pytest.param(
            {"categories": frozenset({C.THREATS_OF_VIOLENCE})},
            {"threats_of_violence"},
            id="threats",
        ),
        pytest.param(
            {"categories": frozenset({C.PHYSICAL_ATTACK})}, {"use_of_violence"}, id="attack"
        ),
        pytest.param({"categories": frozenset({C.ARSON})}, {"arson"}, id="arson"),
        pytest.param(
            {"categories": frozenset({C.ARSON, C.PHYSICAL_ATTACK, C.THREATS_OF_VIOLENCE})},
            {"arson", "use_of_violence", "threats_of_violence"},
            id="three-categories",
        ),
        pytest.param(
            {"categories": frozenset(C) - {C.ARSON, C.PHYSICAL_ATTACK, C.THREATS_OF_VIOLENCE}},
            set(),
            id="other-categories-answer-nothing",
        ),
        pytest.param({"classification": Classification.HARASSMENT}, set(), id="harassment"),
        pytest.param(
            {"classification": Classification.HATE_INCIDENT}, {"hate_motivation"}, id="incident"
        ),
        pytest.param(
            {"classification": Classification.HATE_CRIME}, {"hate_motivation"}, id="hate-crime"
        ),
        pytest.param({"ongoing": True}, {"repeat_victimisation"}, id="ongoing"),
        pytest.param({"vulnerable_adult": True}, {"vulnerability"}, id="vulnerable-adult"),
        pytest.param({"children_in_household": True}, {"children_in_household"}, id="children"),
        pytest.param({"immediate_danger": True}, {"fear_for_safety"}, id="immediate-danger"),
    ],
)
def test_answers_from_report(overrides: dict[str, object], yes: set[str]) -> None:
    answers = from_report(**overrides)
    assert {key for key, answer in answers.items() if answer} == yes


@pytest.mark.parametrize("classification", list(Classification), ids=str)
@pytest.mark.parametrize("flag", [False, True], ids=["all-no", "all-yes"])
def test_answers_from_report_only_use_known_questions(
    classification: Classification, flag: bool
) -> None:
    answers = from_report(
        categories=frozenset(C) if flag else frozenset(),
        classification=classification,
        ongoing=flag,
        vulnerable_adult=flag,
        children_in_household=flag,
        immediate_danger=flag,
    )
    assert set(answers) <= QUESTION_KEYS
    assess(answers, immediate_danger=flag)  # never UnknownQuestion


def test_a_report_cannot_answer_what_needs_a_conversation() -> None:
    """Weapons and the impact on health and daily life are asked, not read off a report."""
    answers = from_report(
        categories=frozenset(C),
        classification=Classification.HATE_CRIME,
        ongoing=True,
        vulnerable_adult=True,
        children_in_household=True,
        immediate_danger=True,
    )
    unanswered = {key for key in QUESTION_KEYS if not answers.get(key)}
    assert unanswered == {"weapons", "impact_on_health", "impact_on_daily_life"}


# --------------------------------------------------------------------------- reviews


def test_review_intervals() -> None:
    assert dict(REVIEW_INTERVAL) == {
        RiskLevel.HIGH: timedelta(days=14),
        RiskLevel.MEDIUM: timedelta(days=28),
    }
    assert RiskLevel.STANDARD not in REVIEW_INTERVAL
    assert REVIEW_INTERVAL[RiskLevel.HIGH] < REVIEW_INTERVAL[RiskLevel.MEDIUM]
