"""The simulator process's side: HCI over TCP, one virtual massager, a radio per client.

The simulator holds one device (``make_device()``, called once) on one
``VirtualLink``, as a massager sits on a table. Each TCP client (an app using
``tcp:HOST:PORT``, or its guardian) gets its own controller on that link, as
each phone near the device has its own radio; the client's Bumble host speaks
HCI to it over the socket. The device takes one central at a time, and
advertises again when it leaves.

A client that goes away without a word (killed) takes its controller with it:
its connection to the device ends as a lost link would (supervision timeout),
and the device advertises again for the next client. What the device does with
its motor then is its own affair (``VirtualMassager.on_link_loss``). Bumble's
stock ``tcp-server`` transport with one controller for every client cannot do
this: a killed client's dead connection stays, and the device never advertises
again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bumble import core
from bumble.transport.common import PacketParser

from tproutine.devices.sim.controller import SimController, VirtualLink
from tproutine.devices.sim.logs import route_bumble_logs
from tproutine.devices.sim.peripheral import SimulatedDevice, VirtualPeripheral

route_bumble_logs()

logger = logging.getLogger(__name__)

# Loopback only: the simulator is a development tool, not a network service.
LISTEN_HOST = "127.0.0.1"

MakeDevice = Callable[[], SimulatedDevice]


class _SocketSink:
    """Where the controller sends HCI packets: the client's socket."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def on_packet(self, packet: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(packet)


class SimSession(asyncio.Protocol):
    """One TCP client: its own controller on the server's link."""

    def __init__(self, server: SimServer) -> None:
        self._server = server
        self.controller: SimController | None = None
        self._transport: asyncio.Transport | None = None
        self._parser: PacketParser | None = None
        self._teardown_task: asyncio.Task[None] | None = None

    @property
    def peer(self) -> str:
        transport = self._transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        return f"{peer[0]}:{peer[1]}" if peer else "?"

    # asyncio.Protocol -----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        # The controller exists before any byte is read: the client's host
        # sends HCI Reset as soon as it is connected.
        self.controller = SimController(f"central for {self.peer}", link=self._server.link)
        self.controller.host = _SocketSink(transport)
        self._parser = PacketParser(self.controller)
        logger.info("simulator client %s connected", self.peer)

    def data_received(self, data: bytes) -> None:
        if self._parser is None:
            return
        try:
            self._parser.feed_data(data)
        except core.InvalidPacketError:
            # Not HCI: nothing sensible can follow on this stream.
            logger.warning("client %s sent something that is not HCI; closing", self.peer)
            if self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        logger.info("simulator client %s left", self.peer)
        self._server._spawn(self.close())

    # lifecycle --------------------------------------------------------------------

    async def close(self) -> None:
        """Tear down: the device sees this client's link go; the controller leaves.

        Idempotent, and safe to call while a teardown started by the socket
        closing is under way: every caller waits for the same one.
        """
        if self._teardown_task is None:
            self._teardown_task = asyncio.get_running_loop().create_task(self._teardown())
        await asyncio.shield(self._teardown_task)

    async def _teardown(self) -> None:
        controller = self.controller
        link = self._server.link
        if controller is not None:
            # Nothing more may be written to the socket of a client that left.
            controller.host = None
            link.drop(controller)
            if controller in link.controllers:
                link.remove_controller(controller)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()
        self._server._sessions.discard(self)


class SimServer:
    """A listening simulator: ``port`` is the bound port (useful with port 0)."""

    def __init__(
        self, make_device: MakeDevice, *, drop_every: float | None, latency: float
    ) -> None:
        self.make_device = make_device
        self.drop_every = drop_every
        self.link = VirtualLink(latency=latency)
        self.peripheral: VirtualPeripheral | None = None
        self.drops = 0  # links dropped by fault injection
        self._drop_timer: asyncio.TimerHandle | None = None
        self._server: asyncio.Server | None = None
        self._sessions: set[SimSession] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.port = 0

    @property
    def sessions(self) -> tuple[SimSession, ...]:
        """The connected clients."""
        return tuple(self._sessions)

    @property
    def device(self) -> SimulatedDevice | None:
        """The one device every client finds."""
        return self.peripheral.device if self.peripheral is not None else None

    async def _start(self, port: int) -> None:
        # The device first: nothing may connect before it is ready.
        peripheral = VirtualPeripheral.for_device(self.make_device())
        if self.drop_every:
            peripheral.watch_connection(self._arm_drop)
        await peripheral.start(self.link)
        self.peripheral = peripheral

        def factory() -> SimSession:
            session = SimSession(self)
            self._sessions.add(session)
            return session

        try:
            self._server = await asyncio.get_running_loop().create_server(
                factory, LISTEN_HOST, port
            )
        except BaseException:
            await self.close()
            raise
        self.port = self._server.sockets[0].getsockname()[1]

    def _arm_drop(self, connected: bool) -> None:
        # Each connection lives drop_every seconds: a clock that ignored
        # connections could cut one during service discovery, or never.
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None
        if connected and self.drop_every:
            self._drop_timer = asyncio.get_running_loop().call_later(self.drop_every, self._drop)

    def _drop(self) -> None:
        self._drop_timer = None
        if self.peripheral is not None and self.peripheral.drop_link():
            self.drops += 1
            logger.info("dropped the device's link (fault injection)")

    async def serve_forever(self) -> None:
        """Run until cancelled (SIGINT / SIGTERM in the command), then ``close()``."""
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop listening, tear every client down, then stop the device."""
        if self._server is not None:
            self._server.close()
            # Closing the server does not close accepted connections; sessions do.
            for session in list(self._sessions):
                await session.close()
            await self._server.wait_closed()
            self._server = None
        if self._drop_timer is not None:
            self._drop_timer.cancel()
            self._drop_timer = None
        peripheral, self.peripheral = self.peripheral, None
        if peripheral is not None:
            await peripheral.stop()
        while self._tasks:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> SimServer:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("simulator task failed", exc_info=task.exception())


async def serve(
    port: int,
    make_device: MakeDevice,
    *,
    drop_every: float | None = None,
    latency: float = 0.0,
) -> SimServer:
    """Start the device and listen on 127.0.0.1:``port`` (0: any free port).

    ``make_device()`` is called once: every client finds that one device, each
    through a controller of its own. ``drop_every`` (seconds) drops each
    connection that long after it was made, as a radio losing the device would.
    Prints nothing: the caller announces readiness once this returns, then
    awaits ``serve_forever()``.
    """
    if drop_every is not None and drop_every <= 0:
        raise ValueError("drop_every must be above 0 seconds")
    server = SimServer(make_device, drop_every=drop_every, latency=latency)
    await server._start(port)
    return server
