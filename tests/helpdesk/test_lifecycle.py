import pytest

from helpdesk.lifecycle import IllegalTransition, allowed_next, check_transition

LEGAL = [
    ("new", "open"),
    ("new", "waiting"),
    ("new", "resolved"),
    ("open", "waiting"),
    ("waiting", "open"),
    ("open", "resolved"),
    ("waiting", "resolved"),
    ("resolved", "open"),
    ("resolved", "closed"),
]
ILLEGAL = [
    ("new", "closed", "it can become: open, waiting on customer, resolved"),
    ("open", "new", "cannot become new"),
    ("open", "closed", "cannot become closed"),
    ("open", "open", "already open"),
    ("closed", "open", "closed and cannot change"),
    ("resolved", "waiting", "it can become: open, closed"),
    ("open", "archived", "not a ticket status"),
]


@pytest.mark.parametrize(("current", "target"), LEGAL)
def test_legal_transitions(current, target):
    check_transition(current, target)
    assert target in allowed_next(current)


@pytest.mark.parametrize(("current", "target", "message"), ILLEGAL)
def test_illegal_transitions_say_why(current, target, message):
    with pytest.raises(IllegalTransition, match=message):
        check_transition(current, target)
