"""``tproutine completion bash|zsh|fish``: shell completion made from the argument parser.

The scripts are generated from :func:`tproutine.cli.build_parser` every time, so
a new command or option completes without anyone editing a script. Each shell
gets the same rules:

- the words typed so far select a command (``run``) or a nested one
  (``devices/scan``);
- after an option that takes a value, its choices (``--format md|html``,
  ``--adapter system|sim|none``), files for paths, nothing for numbers;
- a word starting with ``-``: that command's options, with their help;
- otherwise the command's subcommands, or what its positional argument takes:
  files, and for a ``ROUTINE`` also the names of the routines in the library
  (asked of ``tproutine completion --routines`` when Tab is pressed, so a
  routine added later completes too).

No shell runs any of this at import: the script is text printed on stdout.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

PROG = "tproutine"
SHELLS = ("bash", "zsh", "fish")

# Values that are not argparse choices but have a known set of words.
VALUE_WORDS = {
    "--adapter": ("system", "sim", "none"),
    "--device": ("auto", "none"),
}
# Options whose value is a path: complete files.
PATH_METAVARS = frozenset({"PATH", "OUT", "FILE"})


@dataclass
class Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    words: tuple[str, ...] = ()  # the values to offer; empty = none (or files)
    files: bool = False


@dataclass
class Command:
    """One command of the tree: ``""`` is the program itself, ``devices/scan`` a nested one."""

    path: str
    options: list[Option] = field(default_factory=list)
    subcommands: list[tuple[str, str]] = field(default_factory=list)  # (name, help)
    positional: str = ""  # "", "files" or "routines"


def commands(parser: argparse.ArgumentParser, path: str = "") -> list[Command]:
    """Every command of ``parser``, depth first, each with its options and subcommands."""
    here = Command(path)
    found = [here]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                here.subcommands.append((name, helps.get(name, "")))
                found.extend(commands(sub, f"{path}/{name}" if path else name))
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            takes = action.nargs != 0
            choices = tuple(str(c) for c in action.choices or ())
            flags = tuple(action.option_strings)
            words = choices or next((VALUE_WORDS[f] for f in flags if f in VALUE_WORDS), ())
            metavar = str(action.metavar or "")
            here.options.append(
                Option(flags, action.help or "", takes, words, takes and metavar in PATH_METAVARS)
            )
        elif action.help != argparse.SUPPRESS:
            metavar = str(action.metavar or action.dest)
            here.positional = "routines" if metavar == "ROUTINE" else "files"
    return found


def _word_list(words: list[str] | tuple[str, ...]) -> str:
    return " ".join(words)


def _transitions(tree: list[Command]) -> list[str]:
    """``"|run"``, ``"devices|scan"``: the path so far and the word that goes one deeper."""
    return [f'"{c.path}|{name}"' for c in tree for name, _ in c.subcommands]


def _sq(text: str) -> str:
    """Single-quoted for bash and zsh (a backslash is literal there; a quote ends and
    restarts the quoting)."""
    return "'" + text.replace("'", "'\\''") + "'"


def _fq(text: str) -> str:
    """Single-quoted for fish, where a backslash escapes a quote or a backslash."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---------------------------------------------------------------- bash


def bash_script(parser: argparse.ArgumentParser) -> str:
    tree = commands(parser)
    value_cases: list[str] = []
    option_cases: list[str] = []
    word_cases: list[str] = []
    for c in tree:
        for o in c.options:
            if not o.takes_value:
                continue
            keys = "|".join(f'"{c.path}|{f}"' for f in o.flags)
            if o.words:
                action = f'COMPREPLY=($(compgen -W {_sq(_word_list(o.words))} -- "$cur"))'
            elif o.files:
                action = 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))'
            else:
                action = "COMPREPLY=()"
            value_cases.append(f"        {keys}) {action}; return ;;")
        flags = [f for o in c.options for f in o.flags]
        option_cases.append(f'        "{c.path}") opts={_sq(_word_list(flags))} ;;')
        if c.subcommands:
            names = _word_list([n for n, _ in c.subcommands])
            word_cases.append(
                f'        "{c.path}") COMPREPLY=($(compgen -W {_sq(names)} -- "$cur")) ;;'
            )
        elif c.positional == "routines":
            word_cases.append(
                f'        "{c.path}") compopt -o filenames 2>/dev/null\n'
                f'            COMPREPLY=($(compgen -W "$({PROG} completion --routines '
                f'2>/dev/null)" -- "$cur") $(compgen -f -- "$cur")) ;;'
            )
        elif c.positional == "files":
            word_cases.append(
                f'        "{c.path}") compopt -o filenames 2>/dev/null\n'
                f'            COMPREPLY=($(compgen -f -- "$cur")) ;;'
            )
    transitions = "|".join(_transitions(tree))
    return f"""\
# bash completion for {PROG} (made by `{PROG} completion bash`)
_{PROG}() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local path="" opts="" w i
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        case "$path|$w" in
        {transitions}) path="${{path:+$path/}}$w" ;;
        esac
    done
    COMPREPLY=()
    case "$path|$prev" in
{chr(10).join(value_cases)}
    esac
    if [[ "$cur" == -* ]]; then
        case "$path" in
{chr(10).join(option_cases)}
        esac
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    case "$path" in
{chr(10).join(word_cases)}
    esac
}}
complete -F _{PROG} {PROG}
"""


# ---------------------------------------------------------------- zsh


def _zsh_described(pairs: list[tuple[str, str]]) -> str:
    """An array of ``name:description`` for ``_describe`` (colons escaped)."""
    quoted = []
    for name, help_text in pairs:
        text = " ".join(help_text.split()).replace(":", "\\:")
        quoted.append(_sq(f"{name.replace(':', chr(92) + ':')}:{text}"))
    return " ".join(quoted)


def zsh_script(parser: argparse.ArgumentParser) -> str:
    tree = commands(parser)
    value_cases: list[str] = []
    option_cases: list[str] = []
    word_cases: list[str] = []
    for c in tree:
        for o in c.options:
            if not o.takes_value:
                continue
            keys = "|".join(f'"{c.path}|{f}"' for f in o.flags)
            if o.words:
                action = f"compadd -- {_word_list([_sq(w) for w in o.words])}"
            elif o.files:
                action = "_files"
            else:
                action = ":"
            value_cases.append(f"    ({keys}) {action}; return ;;")
        pairs = [(f, o.help) for o in c.options for f in o.flags]
        option_cases.append(f'      ("{c.path}") opts=({_zsh_described(pairs)}) ;;')
        if c.subcommands:
            word_cases.append(
                f'    ("{c.path}") local -a subs; subs=({_zsh_described(c.subcommands)})\n'
                f"      _describe 'command' subs ;;"
            )
        elif c.positional == "routines":
            word_cases.append(
                f'    ("{c.path}") local -a names; names=(${{(f)"$({PROG} completion '
                f'--routines 2>/dev/null)"}})\n'
                "      compadd -a names; _files ;;"
            )
        elif c.positional == "files":
            word_cases.append(f'    ("{c.path}") _files ;;')
    transitions = "|".join(_transitions(tree))
    return f"""\
#compdef {PROG}
# zsh completion for {PROG} (made by `{PROG} completion zsh`)
_{PROG}() {{
  local cmdpath="" w i cur="${{words[CURRENT]}}" prev="${{words[CURRENT-1]}}"
  local -a opts
  for (( i = 2; i < CURRENT; i++ )); do
    w="${{words[i]}}"
    case "$cmdpath|$w" in
      ({transitions}) cmdpath="${{cmdpath:+$cmdpath/}}$w" ;;
    esac
  done
  case "$cmdpath|$prev" in
{chr(10).join(value_cases)}
  esac
  if [[ "$cur" == -* ]]; then
    case "$cmdpath" in
{chr(10).join(option_cases)}
    esac
    _describe 'option' opts
    return
  fi
  case "$cmdpath" in
{chr(10).join(word_cases)}
  esac
}}
if [[ "${{funcstack[1]}}" == "_{PROG}" ]]; then
  _{PROG} "$@"
else
  compdef _{PROG} {PROG}
fi
"""


# ---------------------------------------------------------------- fish


def fish_script(parser: argparse.ArgumentParser) -> str:
    tree = commands(parser)
    transitions = " ".join(f"'{c.path or '.'}|{name}'" for c in tree for name, _ in c.subcommands)
    lines = [
        f"# fish completion for {PROG} (made by `{PROG} completion fish`)",
        f"function __{PROG}_path",
        "    # The command the words so far select: '.' (none yet), 'run', 'devices/scan'.",
        "    set -l path .",
        "    for w in (commandline -opc)[2..-1]",
        f'        if contains -- "$path|$w" {transitions}',
        "            if test $path = .",
        "                set path $w",
        "            else",
        "                set path $path/$w",
        "            end",
        "        end",
        "    end",
        "    echo $path",
        "end",
        f"function __{PROG}_at",
        f"    test (__{PROG}_path) = $argv[1]",
        "end",
        f"complete -c {PROG} -e",
    ]
    for c in tree:
        at = f"-n '__{PROG}_at {c.path or '.'}'"
        if c.subcommands or not c.positional:
            lines.append(f"complete -c {PROG} {at} -f")
        for name, help_text in c.subcommands:
            lines.append(f"complete -c {PROG} {at} -a {_fq(name)} -d {_fq(help_text)}")
        if c.positional == "routines":
            lines.append(
                f"complete -c {PROG} {at} -a '({PROG} completion --routines 2>/dev/null)' "
                "-d routine"
            )
        for o in c.options:
            parts = [f"complete -c {PROG} {at}"]
            for flag in o.flags:
                parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
            if o.takes_value:
                if o.words:
                    parts.append(f"-x -a {_fq(_word_list(o.words))}")
                elif o.files:
                    parts.append("-r -F")
                else:
                    parts.append("-x")
            parts.append(f"-d {_fq(' '.join(o.help.split()))}")
            lines.append(" ".join(parts))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the command


def routine_names() -> list[str]:
    """The file stems of the routines in the library, for completing a ``ROUTINE``."""
    from tproutine.share.find import library_folders

    names: set[str] = set()
    for folder, _ in library_folders():
        try:
            names.update(p.stem for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
        except OSError:
            continue
    return sorted(n for n in names if n.isprintable() and not any(c.isspace() for c in n))


def main(args: argparse.Namespace) -> int:
    if args.routines:
        from tproutine.safetext import one_line

        for name in routine_names():
            print(one_line(name))
        return 0
    from tproutine.cli import build_parser

    make = {"bash": bash_script, "zsh": zsh_script, "fish": fish_script}[args.shell]
    print(make(build_parser()), end="")
    return 0
