"""The command palette's own provider: every action of the screen in front, by name.

It lists what the footer lists (and the keys the footer hides for room), so a
person who does not remember a key can find the action by typing its name.
The app-wide commands (Devices, History, Help, Stop the motor, Quit) come from
``TProutineApp.get_system_commands``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

# Textual's own screen keys (focus moves, copy): not actions of this app.
_TEXTUAL_ACTIONS = frozenset(b.action for b in Screen.BINDINGS if isinstance(b, Binding))


class ActionsProvider(Provider):
    """The bindings of the current screen (and its focused widget) as commands."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], Any]]]:
        screen = self.screen
        title = type(screen).__name__.removesuffix("Screen")
        seen: set[tuple[int, str]] = set()
        keys: dict[tuple[int, str], list[str]] = {}
        entries: list[tuple[tuple[int, str], str, Any, str]] = []
        for active in screen.active_bindings.values():
            binding = active.binding
            if binding.system or not binding.description or not active.enabled:
                continue
            if binding.action in _TEXTUAL_ACTIONS:
                continue
            if binding.action.startswith("app.") or active.node is self.app:
                continue  # the app's commands come from get_system_commands
            if active.node is not screen and not binding.show:
                continue  # a widget's cursor keys are not actions worth naming
            ident = (id(active.node), binding.action)
            keys.setdefault(ident, []).append(self.app.get_key_display(binding))
            if ident in seen:
                continue
            seen.add(ident)
            entries.append((ident, binding.description, active.node, binding.action))
        for ident, description, node, action in entries:
            help_text = f"{title} · key: {', '.join(keys[ident])}"
            yield description, help_text, partial(self.app.run_action, action, node)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
