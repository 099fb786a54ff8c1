import pytest

from simulator.ledger import Category, Ledger, tags


def make() -> Ledger:
    led = Ledger()
    led.charge("c0", "mac", Category.COMPUTATION, 10, 5, 14.0, tags(layer="a"))
    led.charge("c0", "mac", Category.COMPUTATION, 2, 1, 2.8, tags(layer="a"))
    led.charge("c1", "load", Category.MEMORY, 4, 4, 11.6, tags(layer="b"))
    led.charge("noc", "hop", Category.COMMUNICATION, 1, 3, 2.0)
    return led


def test_charges_with_same_key_accumulate():
    led = make()
    assert len(led) == 3
    mac = [r for r in led.rows() if r["operation"] == "mac"][0]
    assert mac["count"] == 12 and mac["cycles"] == 6 and mac["energy_pj"] == pytest.approx(16.8)


def test_views_sum_to_total():
    led = make()
    total = led.total()
    assert total == pytest.approx(30.4)
    for field in ("component", "operation", "category", "layer"):
        assert sum(led.by(field).values()) == pytest.approx(total)
    assert led.by("layer")[""] == pytest.approx(2.0)  # untagged entries grouped under ""
    assert led.by("category", "layer")[("memory", "b")] == pytest.approx(11.6)
    assert led.total("count") == 17


def test_tags_are_order_independent():
    assert tags(a=1, b="x") == tags(b="x", a=1)


def test_scaled_merge_filter(tmp_path):
    led = make()
    half = led.scaled(0.5)
    assert half.total() == pytest.approx(led.total() / 2)
    merged = Ledger()
    merged.merge(led, tags(run="dense"))
    assert merged.by("run") == {"dense": pytest.approx(led.total())}
    only_c0 = led.filter(lambda r: r["component"] == "c0")
    assert only_c0.total() == pytest.approx(16.8)
    path = led.to_csv(tmp_path / "l.csv")
    lines = path.read_text().splitlines()
    assert lines[0].split(",")[:4] == ["component", "operation", "category", "layer"]
    assert len(lines) == 4


def test_accumulator_adds_up_like_charge():
    a, b = Ledger(), Ledger()
    entry = a.accumulator("noc", "hop", Category.COMMUNICATION, tags(site="W"))
    for _ in range(3):
        entry[0] += 2
        entry[1] += 5
        entry[2] += 1.5
        b.charge("noc", "hop", Category.COMMUNICATION, 2, 5, 1.5, tags(site="W"))
    assert a.rows() == b.rows()
    assert a.accumulator("noc", "hop", Category.COMMUNICATION, tags(site="W")) is entry
