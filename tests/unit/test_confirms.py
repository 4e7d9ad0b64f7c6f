"""Pipelined publisher confirms: which messages of a batch the broker has confirmed."""
from hypothesis import given
from hypothesis import strategies as st

from onestop.messaging.publisher import _Confirms


def test_single_and_multiple_acks_in_any_grouping_confirm_the_run():
    state = _Confirms()
    state.next_tag = 7  # tags 1..6 published
    state.ack(2, False)
    assert state.upto == 0  # 1 is not confirmed yet
    state.ack(1, False)
    assert state.upto == 2
    state.ack(5, True)  # 3, 4 and 5 at once
    assert state.upto == 5
    state.ack(6, False)
    assert state.upto == 6 and not state.done and not state.nacked


def test_a_nack_names_the_refused_messages_and_they_never_count_as_confirmed():
    state = _Confirms()
    state.ack(1, False)
    state.ack(3, False)
    state.nack(4, True)  # 2 and 4: 3 was acked already
    assert state.nacked == {2, 4}
    assert state.upto == 1


@given(st.permutations(range(1, 41)), st.sets(st.integers(1, 40)))
def test_every_tag_acked_once_whatever_the_order_confirms_them_all(order, multiples):
    state = _Confirms()
    for tag in order:
        # a multiple ack for a tag covers every tag below it, as the broker sends it
        # only once all of those are confirmed too
        state.ack(tag, tag in multiples and all(t in state.done or t <= state.upto for t in range(1, tag)))
    assert state.upto == 40 and not state.done
