"""A Dask ``distributed`` client for ``--scheduler``: an address, or ``local`` for a cluster
started on this machine for the run.

``local`` starts a ``distributed.LocalCluster`` (worker processes, one thread each) and closes
it when the run ends, so the distributed path can be tried without a cluster at hand. An
address that does not answer fails within :data:`CONNECT_TIMEOUT_S` seconds with a message
naming ``--scheduler`` and the address (a :class:`simulator.errors.UserError`: exit status 2),
not after Dask's 30 s default with a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from simulator.errors import UserError

#: seconds to wait for a scheduler to answer
CONNECT_TIMEOUT_S = 4
#: worker processes of ``--scheduler local``
LOCAL_WORKERS = 2


@contextmanager
def dask_client(address: str, *, workers: int = LOCAL_WORKERS,
                timeout_s: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A connected ``distributed.Client``, closed (with its LocalCluster) on leaving."""
    from distributed import Client, LocalCluster

    if address == "local":
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout=timeout_s)
    except (OSError, TimeoutError, ValueError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"--scheduler {address}: cannot reach a Dask scheduler there "
                        f"(waited up to {timeout_s:g} s: {why}); give a running scheduler's "
                        "address (tcp://HOST:8786) or 'local' to start one on this machine"
                        ) from None
    try:
        yield client
    finally:
        client.close()
