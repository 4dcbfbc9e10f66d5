"""The banner's Next line: one voice while a playbook runs, no key offered that does not work."""

from __future__ import annotations

from poolterm.ui.banner import Badges, VerdictBanner
from tests.helpers.pool_states import diagnosed, master_lost


def banner_text(badges: Badges) -> str:
    banner = VerdictBanner()
    banner.diagnosis, banner.badges = diagnosed(master_lost()), badges
    return banner.text


def test_the_recommended_playbook_is_one_key_away():
    assert "Next: Run playbook master-lost.  (press R)" in banner_text(Badges())


def test_a_running_playbook_on_this_pool_is_the_only_advice():
    text = banner_text(Badges(playbook="master-lost", playbook_pool="lab"))
    assert "Next: follow playbook master-lost in its panel (x cancels it)." in text
    assert "Run playbook" not in text and "(press R)" not in text


def test_a_playbook_on_another_pool_leaves_this_pools_advice_but_offers_no_key():
    text = banner_text(Badges(playbook="split-brain", playbook_pool="other"))
    assert "Next: Run playbook master-lost." in text and "(press R)" not in text


def test_while_a_drill_sets_up_its_fault_the_banner_says_wait():
    text = banner_text(Badges(drill_setup=True))
    assert "Next: wait: the drill is still setting up its fault." in text
    assert "(press R)" not in text and "Run playbook" not in text
