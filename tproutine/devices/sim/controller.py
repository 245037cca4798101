"""The virtual radio: a fixed Bumble controller and the link the controllers share.

Bumble's ``Controller`` is a software Bluetooth controller speaking real HCI;
``LocalLink`` carries link-layer traffic between controllers in one process.
Two things are added here:

- ``SimController`` answers LE Create Connection Cancel the way a real
  controller does (pitfall 1 in ``ble-simulation.md``), and reports a new
  connection with the event its host asked for (Linux waits for that one).
- ``VirtualLink`` can lose connections the way a radio does (both ends see a
  supervision timeout) and can add a per-hop latency for tests that care.
"""

from __future__ import annotations

import asyncio

from bumble import hci
from bumble.controller import Controller
from bumble.core import PhysicalTransport
from bumble.link import LocalLink

# What a host sees when the radio link is lost: the supervision timer expired.
LINK_LOSS = hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR


class SimController(Controller):
    """A Bumble controller that ends connection procedures as a real one does.

    - The stock controller acknowledges LE Create Connection Cancel but never
      completes the pending connection, so a host that connects to an absent
      device with a timeout waits forever, and every later connect is refused
      because the old attempt is still pending.
    - It also accepts a Disconnect for a connection that is already gone and
      then says nothing more, so Bumble's ``Connection.disconnect`` waits
      forever when the peer hung up a moment before.
    - It reports every new LE connection with the legacy LE Connection
      Complete event, even to a host that unmasked LE Enhanced Connection
      Complete, where the specification (Vol 4, Part E, 7.7.65.10) says only
      the enhanced event is sent. Linux (``hci_le_create_conn_sync``) waits for
      the enhanced one: it handled the legacy event (the link came up), but its
      command queue stayed blocked until its connect timer fired 4 s later,
      then it cancelled a connection that was already up and never sent the
      HCI Disconnect that ``bluetoothd`` asked for afterwards (issue 10: the
      disconnects that never finished). A real controller that offers LL
      privacy or extended advertising sends the enhanced event.
    """

    def send_hci_packet(self, packet: hci.HCI_Packet) -> None:
        if isinstance(packet, hci.HCI_LE_Connection_Complete_Event) and self._wants_enhanced():
            packet = hci.HCI_LE_Enhanced_Connection_Complete_Event(
                status=packet.status,
                connection_handle=packet.connection_handle,
                role=packet.role,
                peer_address_type=packet.peer_address_type,
                peer_address=packet.peer_address,
                # No address resolution here: both are "none" (all zero).
                local_resolvable_private_address=hci.Address.ANY_RANDOM,
                peer_resolvable_private_address=hci.Address.ANY_RANDOM,
                connection_interval=packet.connection_interval,
                peripheral_latency=packet.peripheral_latency,
                supervision_timeout=packet.supervision_timeout,
                central_clock_accuracy=packet.central_clock_accuracy,
            )
        super().send_hci_packet(packet)

    def _wants_enhanced(self) -> bool:
        """The host unmasked LE Enhanced Connection Complete (v1) and not its v2.

        (LE event N is bit N-1 of the mask.) Linux 6.1 asks for v1 only. Bumble's
        own host, the peripherals' side, unmasks v2 too, which would carry the
        advertising set's handle; it treats all three events alike, so it keeps
        getting the legacy one.
        """
        mask = self.le_event_mask
        v1 = mask >> (hci.HCI_LE_ENHANCED_CONNECTION_COMPLETE_EVENT - 1) & 1
        v2 = mask >> (hci.HCI_LE_ENHANCED_CONNECTION_COMPLETE_V2_EVENT - 1) & 1
        return bool(v1) and not v2

    def on_hci_disconnect_command(self, command: hci.HCI_Disconnect_Command) -> None:
        handle = command.connection_handle
        known = (
            self.find_connection_by_handle(handle) is not None
            or self.find_classic_sco_link_by_handle(handle) is not None
            or self.find_iso_link_by_handle(handle) is not None
        )
        if not known:
            # Vol 4, Part E, 7.1.6: a handle that is not connected is refused
            # in the Command Status.
            self._send_hci_command_status(
                hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR, command.op_code
            )
            return None
        return super().on_hci_disconnect_command(command)

    def on_hci_le_create_connection_cancel_command(
        self, command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            # The attempt already completed (the advert arrived just before the
            # host's timer fired). A real controller says Command Disallowed,
            # which Bumble's connect_le turns into an exception while the new
            # connection stays up unowned; succeeding lets connect_le return it.
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)
        self.pending_le_connection = None

        def complete() -> None:
            # Vol 4, Part E, 7.8.13: after the Command Complete, the controller
            # ends the attempt with LE Connection Complete, status Unknown
            # Connection Identifier. Scheduled so it follows the Command Complete
            # that on_hci_command_packet sends when this handler returns.
            self.send_hci_packet(
                hci.HCI_LE_Connection_Complete_Event(
                    status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                    connection_handle=0,
                    role=hci.Role.CENTRAL,
                    peer_address_type=pending.peer_address_type,
                    peer_address=pending.peer_address,
                    connection_interval=0,
                    peripheral_latency=0,
                    supervision_timeout=0,
                    central_clock_accuracy=0,
                )
            )

        asyncio.get_running_loop().call_soon(complete)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


class VirtualLink(LocalLink):
    """A ``LocalLink`` that can drop connections and delay data.

    ``latency`` (seconds) delays every ACL data packet on its way to the other
    controller; the stock link delivers on the next loop iteration, which is
    kinder than any radio's connection interval.
    """

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__()
        self.latency = latency

    def send_acl_data(
        self,
        sender_controller: Controller,
        destination_address: hci.Address,
        transport: PhysicalTransport,
        data: bytes,
    ) -> None:
        if transport != PhysicalTransport.LE:
            super().send_acl_data(sender_controller, destination_address, transport, data)
            return
        destination = self.find_le_controller(destination_address)
        if destination is None:
            return
        # The stock link stamps LE data with the sender's random address. A
        # central that scanned with a throw-away random address and connected
        # with its public one (Linux does) would then have every packet dropped
        # by the peer, which knows the connection by the public address: take
        # the address the sender's connection to this peer actually uses.
        connection = sender_controller.le_connections.get(destination_address)
        source = (
            connection.self_address if connection is not None else sender_controller.random_address
        )
        loop = asyncio.get_running_loop()
        if self.latency > 0:
            loop.call_later(self.latency, destination.on_link_acl_data, source, transport, data)
        else:
            loop.call_soon(destination.on_link_acl_data, source, transport, data)

    def drop(self, controller: Controller, reason: int = LINK_LOSS) -> int:
        """Lose every LE connection of ``controller``, as a radio would.

        Both ends get a Disconnection Complete with ``reason`` and no LL
        Terminate is exchanged: neither side chose to leave. Returns how many
        connections were dropped.
        """
        dropped = 0
        for connection in list(controller.le_connections.values()):
            peer = self._peer_of(controller, connection.self_address, connection.peer_address)
            controller.on_le_disconnected(connection, reason)
            if peer is not None:
                peer_connection = peer.le_connections.get(connection.self_address)
                if peer_connection is not None:
                    peer.on_le_disconnected(peer_connection, reason)
            dropped += 1
        return dropped

    def _peer_of(
        self, controller: Controller, self_address: hci.Address, peer_address: hci.Address
    ) -> Controller | None:
        for other in self.controllers:
            if other is controller:
                continue
            other_connection = other.le_connections.get(self_address)
            if other_connection is not None and other_connection.self_address == peer_address:
                return other
        return None
