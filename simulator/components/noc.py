"""Packet-switched network on chip over any networkx graph.

Routing is dimension-order (x first, then y) on meshes whose nodes are ``(x, y)`` tuples, or
shortest path on any graph. Shortest routes from one source all come from one breadth-first
tree, so the routes of a multicast always merge into a tree (independent shortest paths on a
mesh with holes need not). A multicast packet travels the tree that is the union of its routes
from the source, so each link of the tree carries one copy and routers duplicate the packet
where branches split. Every directed link is a FIFO server: a packet holds it for its
serialisation time (``ceil(bits / link_width_bits)`` NoC cycles), so packets sharing a link
queue behind each other; after the link, the next router adds its latency.

Links are modelled by the time they next fall free, not by SimPy resources: for a FIFO server
of capacity one this gives exactly the schedule a ``simpy.Resource`` would (requests are granted
in the order they arrive), with one SimPy event per hop instead of three. The NoC is the most
frequent component of every job, so this is where the event budget goes.

A train's last packet may go on, alone, to more destinations than the train (a :class:`Tail`:
a marker that ends a burst of events and also tells other cores it was sent). It rides at the
train's end on the links of the train's tree, one packet copy on the branches beyond, as if
it were a multicast of its own to all the destinations sent right behind the train: the same
packets on the same links, one route plan and no second walk down the train's tree.
"""

from __future__ import annotations

import itertools
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt
from simpy.events import NORMAL

from simulator.components.base import Component
from simulator.ledger import Category, Tags

if TYPE_CHECKING:
    import networkx as nx

    from simulator.engine import Engine

Node = Hashable


class NocConfig(BaseModel):
    """Router and link parameters; cycles are in the NoC's own clock (``clock_hz``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clock_hz: PositiveInt
    routing: Literal["xy", "shortest"] = "xy"
    router_latency_cycles: NonNegativeInt = Field(description="per hop, NoC cycles")
    link_width_bits: PositiveInt = Field(description="bits a link moves per NoC cycle")
    header_bits: NonNegativeInt
    max_payload_bits: PositiveInt
    inject_energy_pj: NonNegativeFloat = Field(description="per packet, at the source")
    hop_energy_pj: NonNegativeFloat = Field(description="per packet copy per link traversed")
    hop_energy_per_bit_pj: NonNegativeFloat = Field(description="per bit per link traversed")
    static_power_w: NonNegativeFloat = 0.0


def mesh_graph(width: int, height: int, missing: Iterable[tuple[int, int]] = ()) -> nx.Graph:
    """A ``width`` x ``height`` 2-D mesh with ``(x, y)`` nodes, minus the ``missing`` nodes."""
    import networkx as nx  # the topology library, when a topology is built

    g = nx.grid_2d_graph(width, height)
    g.remove_nodes_from(list(missing))
    return g


@dataclass(slots=True)
class Packet:
    id: int
    src: str
    dsts: tuple[str, ...]
    payload_bits: int
    bits: int
    link_cycles: int  # chip-clock cycles the packet occupies each link
    data: Any
    tags: Tags
    sent_at: int
    count: int = 1  # wire packets in this train (see Noc.send)
    spacing: int = 0  # chip-clock cycles between the heads of a train's packets (0: back to back)
    #: when recording the critical path: the node that sent it (or, for a packet relayed by
    #: a gateway, the packet it relays); see simulator.critical_path
    cause: Any = None
    #: a train whose last packet goes on to more destinations: (that packet, its route plan's
    #: steps, the source node)
    tail: Any = None

    @property
    def tail_cycles(self) -> int:
        """Cycles from the head's arrival to the tail's, on an uncontended path."""
        return (self.count - 1) * max(self.link_cycles, self.spacing)


@dataclass(frozen=True, slots=True)
class Tail:
    """A train's last packet going on to ``dsts`` as well (in the caller's addresses: endpoint
    names on a :class:`Noc`, core indices on a system), carrying ``data`` there."""

    data: Any
    dsts: Sequence


class _Hop:
    """A packet reaching the next router: what SimPy's ``Environment.step`` needs of an event
    (``callbacks``, ``_ok``) and nothing else. A hop is the NoC's most frequent event; a
    ``Timeout`` with a ``partial`` callback costs about twice as much to make."""

    __slots__ = ("callbacks", "packet", "steps", "node")
    _ok = True

    def __init__(self, packet: Packet, steps: dict, node: Node, callback) -> None:
        self.callbacks = (callback,)
        self.packet, self.steps, self.node = packet, steps, node


@dataclass(frozen=True, slots=True, eq=False)  # hashed by identity: plans are cached
class _Plan:
    """A cached multicast route: per node, (endpoints to deliver to, (next node, link)s)."""

    src_node: Node
    dsts: tuple[str, ...]
    steps: dict
    edges: tuple
    injects: bool = True  # False: a tail's own branches, its packet counted with the train's


class Noc(Component):
    """See the module docstring."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        config: NocConfig,
        graph: nx.Graph,
        record_deliveries: bool = False,
    ) -> None:
        super().__init__(engine, name, config.static_power_w)
        if graph.number_of_nodes() == 0:
            raise ValueError(f"{name}: empty topology")
        self.config = config
        self.graph = graph.to_directed() if not graph.is_directed() else graph
        self.link_free_at: dict[tuple[Node, Node], int] = dict.fromkeys(self.graph.edges, 0)
        self._traffic: Counter = Counter()  # (plan, bits) -> packets sent (plans by identity)
        self._sizes: dict[int, tuple[int, int]] = {}  # by payload bits: (bits, link cycles)
        self._endpoints: dict[str, tuple[Node, Callable[[Packet], None]]] = {}
        self._at_node: dict[Node, list[str]] = {}
        self._trees = _shared_trees(config.routing, tuple(self.graph.edges))
        self._plans: dict[tuple[str, tuple[str, ...]], _Plan] = {}
        self._tail_plans: dict[tuple, tuple[_Plan | None, _Plan]] = {}
        self._bfs: dict[Node, dict[Node, list[Node]]] = {}
        self._charges: dict[tuple, tuple] = {}
        self._ids = itertools.count()
        self._router_cycles = engine.to_cycles(config.router_latency_cycles, config.clock_hz)
        self.sent = 0  # sends (a train is one)
        self.packets = 0  # wire packets injected (a train of n is n)
        self.delivered = 0  # deliveries (a train is one per destination)
        self.delivered_packets = 0  # wire packets delivered (a train of n is n per destination)
        self.expected = 0
        self.deliveries: Counter | None = Counter() if record_deliveries else None

    # -- topology -----------------------------------------------------------------------------
    def attach(self, endpoint: str, node: Node, deliver: Callable[[Packet], None]) -> None:
        """Connect an endpoint (a core) at ``node``; ``deliver`` receives its packets."""
        if node not in self.graph:
            raise ValueError(f"{self.name}: node {node!r} is not in the topology")
        if endpoint in self._endpoints:
            raise ValueError(f"{self.name}: endpoint {endpoint!r} attached twice")
        self._endpoints[endpoint] = (node, deliver)
        self._at_node.setdefault(node, []).append(endpoint)

    def node_of(self, endpoint: str) -> Node:
        return self._endpoints[endpoint][0]

    def route(self, src: Node, dst: Node) -> list[Node]:
        """Nodes from ``src`` to ``dst`` inclusive, by the configured routing."""
        if self.config.routing == "shortest":
            paths = self._bfs.get(src)
            if paths is None:
                import networkx as nx

                paths = self._bfs[src] = nx.single_source_shortest_path(self.graph, src)
            if dst not in paths:
                raise ValueError(f"{self.name}: no route from {src!r} to {dst!r}")
            return list(paths[dst])
        (x, y), (x1, y1) = src, dst
        path = [(x, y)]
        while x != x1:
            x += 1 if x1 > x else -1
            path.append((x, y))
        while y != y1:
            y += 1 if y1 > y else -1
            path.append((x, y))
        for a, b in itertools.pairwise(path):
            if (a, b) not in self.link_free_at:
                raise ValueError(
                    f"{self.name}: XY route {src} -> {dst} needs link {a} -> {b}, which the "
                    "topology lacks; use routing='shortest' for irregular graphs"
                )
        return path

    def tree(self, src: Node, dst_nodes: frozenset) -> dict[Node, tuple[Node, ...]]:
        """Multicast tree as ``node -> children``: the union of the routes to every target."""
        key = (src, dst_nodes)
        tree = self._trees.get(key)
        if tree is None:
            children: dict[Node, list[Node]] = {}
            if self.config.routing == "xy":
                self._xy_branches(src, dst_nodes, children)
            else:
                for d in sorted(dst_nodes, key=repr):
                    for a, b in itertools.pairwise(self.route(src, d)):
                        kids = children.setdefault(a, [])
                        if b not in kids:
                            kids.append(b)
            tree = {n: tuple(k) for n, k in children.items()}
            parents = Counter(c for kids in tree.values() for c in kids)
            if parents and max(parents.values()) > 1:
                raise ValueError(f"{self.name}: routes from {src} do not form a tree")
            self._trees[key] = tree
        return tree

    def _xy_branches(self, src: Node, dst_nodes: frozenset, children: dict) -> None:
        """The union of the XY routes to ``dst_nodes``, built as :meth:`route` would (same
        children in the same order) but in time linear in the tree: each route is walked
        back from its destination only until it meets the tree built so far."""
        on_tree = {src}
        x0, y0 = src
        for d in sorted(dst_nodes, key=repr):
            back = []  # d, then towards src (y first, then x: an XY route reversed)
            x, y = d
            while (x, y) not in on_tree:
                back.append((x, y))
                if y != y0:
                    y += 1 if y0 > y else -1
                else:
                    x += 1 if x0 > x else -1
            a = (x, y)
            for b in reversed(back):
                if (a, b) not in self.link_free_at:
                    raise ValueError(
                        f"{self.name}: XY route {src} -> {d} needs link {a} -> {b}, which the "
                        "topology lacks; use routing='shortest' for irregular graphs")
                children.setdefault(a, []).append(b)
                on_tree.add(b)
                a = b

    def _plan(self, src: str, dsts: tuple[str, ...]) -> _Plan:
        """Per node of the multicast tree: which endpoints to deliver to, which links to take
    (``(next node, link)``)."""
        key = (src, dsts)
        dsts = tuple(dict.fromkeys(dsts))
        if not dsts:
            raise ValueError(f"{self.name}: packet from {src!r} has no destination")
        for d in (src, *dsts):
            if d not in self._endpoints:
                raise ValueError(f"{self.name}: unknown endpoint {d!r}")
        src_node = self._endpoints[src][0]
        tree = self.tree(src_node, frozenset(self._endpoints[d][0] for d in dsts))
        wanted = set(dsts)
        at: dict[Node, tuple] = {}  # destination nodes: their endpoints, in attachment order
        for node in {self._endpoints[d][0] for d in dsts}:
            at[node] = tuple((ep, self._endpoints[ep][1]) for ep in self._at_node[node]
                             if ep in wanted)
        steps = {node: (at.get(node, ()), tuple((k, (node, k)) for k in tree.get(node, ())))
                 for node in {src_node} | _all(tree)}
        edges = tuple((u, v) for u, kids in tree.items() for v in kids)
        plan = _Plan(src_node, dsts, steps, edges)
        self._plans[key] = plan
        return plan

    @property
    def link_bits(self) -> Counter:
        """Bits carried per directed link (NoC traffic), over the whole run."""
        out: Counter = Counter()
        for (plan, bits), n in self._traffic.items():
            for e in plan.edges:
                out[e] += bits * n
        return out

    @property
    def link_packets(self) -> Counter:
        """Packet copies carried per directed link."""
        out: Counter = Counter()
        for (plan, _), n in self._traffic.items():
            for e in plan.edges:
                out[e] += n
        return out

    # -- traffic ------------------------------------------------------------------------------
    def send(
        self,
        src: str,
        dsts: Iterable[str],
        payload_bits: int,
        data: Any = None,
        tags: Tags = (),
        count: int = 1,
        spacing: int = 0,
        tail: Tail | None = None,
    ) -> Packet:
        """Inject a unicast (one destination) or multicast packet from endpoint ``src``.

        Hop energy is charged here for every link of the tree (it does not depend on when
        the hop happens); link occupancy and delivery times are simulated hop by hop.

        ``count > 1`` sends a *train*: ``count`` packets of the same size back to back along
        the same tree (e.g. the events of one layer input for one core). It costs ``count``
        times the energy and occupies each link ``count`` times as long, but is one SimPy
        event per hop: the head travels cut-through and is delivered once per destination
        (``Packet.count`` and ``Packet.tail_cycles`` tell the receiver what it holds).
        ``spacing`` (chip-clock cycles) spaces the packets' heads when the sender issues them
        slower than a link moves them (a core writing one packet every ``spacing`` cycles):
        each link is then held from the head to the tail, ``(count - 1) * spacing`` plus one
        packet's serialisation, the gaps included.

        ``tail``: the train's last packet also goes to ``tail.dsts`` (those not in ``dsts``),
        delivered there as a packet of its own carrying ``tail.data``, when it arrives: it
        leaves the train where the routes part (``(count - 1) * spacing`` after the head at
        the source, ``(count - 1)`` link holds behind it further on). With no ``dsts`` only
        that packet is sent, when the sender writes it. Returns the train's packet (or the
        tail's, if there is no train)."""
        if count < 1:
            raise ValueError(f"{self.name}: a train needs count >= 1, got {count}")
        dsts = tuple(dsts)
        bits, link_cycles = self._sizes.get(payload_bits) or self._size(payload_bits)
        if tail is not None:
            return self._send_with_tail(src, dsts, payload_bits, bits, link_cycles, data, tags,
                                        count, spacing, tail)
        plan = self._plans.get((src, dsts)) or self._plan(src, dsts)
        p = self._packet(src, plan, payload_bits, bits, link_cycles, data, tags, count, spacing)
        self._account(plan, bits, link_cycles, tags, count)
        self._arrive(_Hop(p, plan.steps, plan.src_node, None))
        return p

    def _size(self, payload_bits: int) -> tuple[int, int]:
        """A packet's bits, and the chip-clock cycles it holds each link (kept by payload)."""
        cfg = self.config
        if not 0 <= payload_bits <= cfg.max_payload_bits:
            raise ValueError(f"{self.name}: payload of {payload_bits} bits outside "
                             f"[0, {cfg.max_payload_bits}]")
        bits = cfg.header_bits + payload_bits
        link_cycles = self.engine.to_cycles(-(-bits // cfg.link_width_bits), cfg.clock_hz)
        size = self._sizes[payload_bits] = (bits, link_cycles)
        return size

    def _packet(self, src: str, plan: _Plan, payload_bits: int, bits: int, link_cycles: int,
                data: Any, tags: Tags, count: int, spacing: int, delay: int = 0) -> Packet:
        """A packet (train) from ``src`` along ``plan``, leaving ``delay`` cycles from now;
        its deliveries counted as expected."""
        critical = self.engine.critical
        self.expected += len(plan.dsts)
        return Packet(next(self._ids), src, plan.dsts, payload_bits, bits, link_cycles, data,
                      tags, self.env.now + delay, count, spacing,
                      None if critical is None else critical.cause_of(src))

    def _account(self, plan: _Plan, bits: int, link_cycles: int, tags: Tags, count: int
                 ) -> None:
        """Charge ``count`` packets of ``bits`` on ``plan`` (injection, every link of its
        tree) and count them as sent."""
        if plan.injects:
            self.sent += 1
            self.packets += count
        charges = (self._charges.get((plan, bits, tags))
                   or self._prepare(plan, bits, link_cycles, tags))
        for entry, per_packet in charges:  # inject, and hop if the route has links
            entry[0] += per_packet[0] * count
            entry[1] += per_packet[1] * count
            entry[2] += per_packet[2] * count
        if plan.edges:
            self._traffic[(plan, bits)] += count

    def _send_with_tail(self, src: str, dsts: tuple[str, ...], payload_bits: int, bits: int,
                        link_cycles: int, data: Any, tags: Tags, count: int, spacing: int,
                        tail: Tail) -> Packet:
        tail_dsts = tuple(tail.dsts)
        train, rest = (self._tail_plans.get((src, dsts, tail_dsts))
                       or self._tail_plan(src, dsts, tail_dsts))
        behind = (count - 1) * spacing  # when the sender writes the last packet
        if train is None:  # only the last packet: a packet of its own, sent when written
            q = self._packet(src, rest, payload_bits, bits, link_cycles, tail.data, tags, 1, 0,
                             behind)
            self._account(rest, bits, link_cycles, tags, 1)
            self.env.schedule(_Hop(q, rest.steps, rest.src_node, self._arrive), NORMAL, behind)
            return q
        p = self._packet(src, train, payload_bits, bits, link_cycles, data, tags, count,
                         spacing)
        self._account(train, bits, link_cycles, tags, count)
        if not rest.dsts:  # every tail destination has the train
            self._arrive(_Hop(p, train.steps, train.src_node, None))
            return p
        q = self._packet(src, rest, payload_bits, bits, link_cycles, tail.data, tags, 1, 0,
                         behind)
        self._account(rest, bits, link_cycles, tags, 1)
        p.tail = (q, rest.steps, train.src_node)
        self._arrive(_Hop(p, train.steps, train.src_node, None))
        return p

    def _tail_plan(self, src: str, dsts: tuple[str, ...], tail_dsts: tuple
                   ) -> tuple[_Plan | None, _Plan]:
        """The train's plan (None without ``dsts``), and its last packet's own: per node
        where it leaves the train's tree or beyond, the tail's endpoints and the links not on
        the train's tree (``injects=False``: its packet is the train's last)."""
        key = (src, dsts, tail_dsts)
        dsts = tuple(dict.fromkeys(dsts))
        on_dsts = set(dsts)
        rest_dsts = tuple(d for d in dict.fromkeys(tail_dsts) if d not in on_dsts)
        if not dsts:
            rest = self._plans.get((src, rest_dsts)) or self._plan(src, rest_dsts)
            self._tail_plans[key] = (None, rest)
            return None, rest
        train = self._plans.get((src, dsts)) or self._plan(src, dsts)
        endpoints, wanted = self._endpoints, set(rest_dsts)
        for d in rest_dsts:
            if d not in endpoints:
                raise ValueError(f"{self.name}: unknown endpoint {d!r}")
        tree = self.tree(train.src_node,
                         frozenset(endpoints[d][0] for d in dsts + rest_dsts))
        stops = {endpoints[d][0] for d in rest_dsts}
        on_train = train.steps
        steps = {}
        for node in {train.src_node} | _all(tree):
            here = (tuple((ep, endpoints[ep][1]) for ep in self._at_node[node] if ep in wanted)
                    if node in stops else ())
            beyond = tuple((k, (node, k)) for k in tree.get(node, ()) if k not in on_train)
            if here or beyond:
                steps[node] = (here, beyond)
        edges = tuple((u, v) for u, kids in tree.items() for v in kids if v not in on_train)
        rest = _Plan(train.src_node, rest_dsts, steps, edges, injects=False)
        self._tail_plans[key] = (train, rest)
        return train, rest

    def _prepare(self, plan: _Plan, bits: int, link_cycles: int, tags: Tags) -> tuple:
        """Ledger entries a packet of ``bits`` on ``plan`` adds to, with what one packet adds
        to each ``(count, cycles, energy_pj)``: injection, and every link of the tree."""
        cfg, ledger = self.config, self.engine.ledger
        out = []
        if plan.injects:
            out.append((ledger.accumulator(self.name, "inject", Category.COMMUNICATION, tags),
                        (1, 0, cfg.inject_energy_pj)))
        hops = len(plan.edges)
        if hops:
            out.append((ledger.accumulator(self.name, "hop", Category.COMMUNICATION, tags),
                        (hops, hops * (link_cycles + self._router_cycles),
                         hops * (cfg.hop_energy_pj + bits * cfg.hop_energy_per_bit_pj))))
        charges = self._charges[(plan, bits, tags)] = tuple(out)
        return charges

    def _arrive(self, hop: _Hop) -> None:
        """``hop.packet`` reaches router ``hop.node``: deliver it to the endpoints there and
        forward it on every link of the tree below, each a FIFO server. A train with a
        :class:`Tail` also lets its last packet go on alone where its plan leaves the train's
        tree here, when that packet is in: ``count - 1`` link holds behind the head (each
        link of the train held it that long; at the source, the sender wrote it then)."""
        p, steps, node = hop.packet, hop.steps, hop.node
        here, links = steps[node]
        if p.tail is not None and node in p.tail[1]:
            q, rest, source = p.tail
            gap = p.spacing if node == source else max(p.link_cycles, p.spacing)
            self.env.schedule(_Hop(q, rest, node, self._arrive), NORMAL, (p.count - 1) * gap)
        if here:
            self.delivered += len(here)
            self.delivered_packets += p.count * len(here)
            critical = self.engine.critical
            if self.deliveries is None and critical is None:
                for _, deliver in here:
                    deliver(p)
            else:
                self._deliver_recorded(p, here, critical)
        if not links:
            return
        env, free_at = self.env, self.link_free_at
        now = env._now  # as env.now (a property); the hop's own time
        ser = p.link_cycles
        hold = ser * p.count if p.spacing <= ser else ser + (p.count - 1) * p.spacing
        after = ser + self._router_cycles - now
        schedule, arrive = env.schedule, self._arrive
        timeline = self.engine.timeline
        for nxt, link in links:
            start = free_at[link]
            if start < now:
                start = now
            free_at[link] = start + hold
            if timeline is not None:
                timeline.span(f"{self.name}.link{link[0]}->{nxt}", f"pkt{p.id}", start,
                              start + hold)
            schedule(_Hop(p, steps, nxt, arrive), NORMAL, start + after)

    def _deliver_recorded(self, p: Packet, here: tuple, critical) -> None:
        """Deliver ``p`` to the endpoints ``here``, noting each delivery (exactly-once tests)
        and telling the critical-path recorder which packet is being delivered."""
        for ep, deliver in here:
            if self.deliveries is not None:
                self.deliveries[(p.id, ep)] += 1
            if critical is None:
                deliver(p)
            else:  # a gateway that relays p sends while p is being delivered
                critical.delivering = p
                deliver(p)
                critical.delivering = None

    def pending(self) -> str | None:
        # A copy in flight always has a destination downstream, so outstanding deliveries
        # cover packets in flight too.
        if self.delivered != self.expected:
            return f"{self.expected - self.delivered} deliveries outstanding"
        return None


#: multicast trees by topology (routing, directed edges in order): every system built on the
#: same mesh (the dense and the sparse run, the points of a sweep) routes the same way
_TREES: OrderedDict[tuple, dict] = OrderedDict()
_TOPOLOGIES_KEPT = 4


def _shared_trees(routing: str, edges: tuple) -> dict:
    key = (routing, edges)
    trees = _TREES.get(key)
    if trees is None:
        trees = _TREES[key] = {}
        while len(_TREES) > _TOPOLOGIES_KEPT:
            _TREES.popitem(last=False)
    else:
        _TREES.move_to_end(key)
    return trees


def _all(tree: dict) -> set:
    return set(tree) | {c for kids in tree.values() for c in kids}


