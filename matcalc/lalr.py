"""The LALR reader: lark's own LALR table and terminals, run by a tight loop.

lark's parser spends most of its time per token in general machinery (lexer
states, token objects, parser-state objects). :class:`FastParser` takes what
lark derived from ``grammar/matcalc.lark`` — the terminals' regular expressions
in lark's order and the LALR table — and runs them with one compiled regular
expression and one loop, so the grammar file stays the single definition of the
syntax. A token is pushed as its offsets ``(start, end)`` (no token objects)
and each rule's node is made by a builder of :data:`matcalc.syntax.FAST_BUILDERS`
(the nodes lark's callbacks make, without lark's calling conventions).
:meth:`FastParser.tokens` gives the tokens alone, for :mod:`matcalc.precedence`.

It reads valid models only: at the first token it cannot take (a character no
terminal matches, a token the table has no action for) it hands the whole text
to lark's parser, which raises lark's own error (line, column, expected
terminals), so every message is the one lark gives. Tokenising without lark's
contextual lexer gives the same tokens because no two of the grammar's
terminals can match at the same place (checked by ``tests/test_lalr.py`` on
every model of the test suite and on random text).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping, Sequence

from lark import Lark
from lark.parse_tree_builder import ExpandSingleChild
from lark.parsers.lalr_analysis import Shift

from .syntax import Source, reading

_END = sys.intern("$END")


#: The last token of a part of a text's tokens (:meth:`FastParser.tokens` with a limit)
MORE = sys.intern("(more)")

#: The kind of a group that matches the second of two tokens read in one match
PAIR = sys.intern("(pair)")

#: The most operators a run read in one match holds
RUN_LENGTH = 256

#: How far into a line :meth:`FastParser.tokens` looks for a statement form's mark
_MARKED = 80


class NotFast(Exception):
    """The fast reader cannot go on here (the text has an error, or the grammar needs
    lark's general machinery): lark's parser reads the text instead."""


class FastParser:
    """Parses like ``lark_parser.parse(text)`` for texts without syntax errors.

    ``builders`` maps each rule — its alias or name, and the names of its symbols — to a
    function of its children and the text that makes its node; a rule without one
    leaves the reading to lark. ``drop_in_parens`` names the terminal dropped inside
    parentheses (the post-lexer of :mod:`matcalc.grammar`), ``open_paren`` and
    ``close_paren`` the terminals that open and close them. ``skip_ahead`` (by default on
    Python 3.11 and later, whose regular expressions have possessive repeats) skips
    ignored text in the match of the next token; then :meth:`tokens` also reads each of
    ``pairs`` (two terminals, one after the other, as an operator and a name) in one match.
    ``splits`` and ``operand_ends`` say where :meth:`tokens` may end a part (see there).

    Each of ``runs`` — a kind of token, infix operators of one level of precedence, an
    operand terminal, the terminals after an operand that would make it more than an
    operand there, and a postfix operator an operand may have once (or ``None``) — lets
    :meth:`tokens` read two or more of those operators after an operand, each followed by
    a plain operand (``*B*C``, ``+ y - z``, ``*Bᵀ*Cᵀ``), as one token of that kind, whose
    offsets are those of the run; :attr:`run_pieces` reads its parts.

    Each of ``statements`` — a kind of token, its terminals in order (a terminal given as
    ``(terminal, words)`` matches only the words of the regular expression ``words``), and
    the terminals that may follow it — lets :meth:`tokens` read a whole statement of that
    form where a statement begins (at the start of a text or after a new line outside
    parentheses) as one token of that kind, whose offsets are those of the statement (with
    the ignored text before it); ``statement_start(text, start)`` matches it again, with
    the groups :attr:`statement_groups` gives, one per terminal.
    """

    def __init__(self, lark_parser: Lark, builders: Mapping[tuple[str, tuple[str, ...]], Callable],
                 drop_in_parens: str = "_NL", open_paren: str = "LPAR", close_paren: str = "RPAR",
                 skip_ahead: bool | None = None, pairs: Sequence[tuple[str, str]] = (),
                 splits: Sequence[str] = (), operand_ends: Sequence[str] = (),
                 runs: Sequence[tuple[str, Sequence[str], str, Sequence[str], str | None]] = (),
                 statements: Sequence[tuple[str, Sequence[str | tuple[str, str]], Sequence[str]]] = (),
                 ) -> None:
        self.lark = lark_parser
        #: infix operators a part of the tokens may end before, after one of ``operand_ends``
        self.splits = frozenset(map(sys.intern, splits))
        self.operand_ends = frozenset(map(sys.intern, operand_ends))
        frontend = lark_parser.parser
        lexer = frontend.lexer
        root = getattr(lexer, "root_lexer", lexer)
        # lark's basic lexer order: first match wins, as there
        terminals = sorted(
            lark_parser.terminals,
            key=lambda t: (-t.priority, -t.pattern.max_width, -len(t.pattern.value), t.name),
        )
        #: False when the grammar needs lark's general machinery (terminal callbacks):
        #: then lark reads every text
        self.usable = not (getattr(root, "callback", None) or lark_parser.options.lexer_callbacks)
        ignore = frozenset(str(name) for name in lark_parser.ignore_tokens)
        # Text the grammar ignores (white space, comments) is skipped by the same match
        # as the token after it, when the regular expressions can say "without giving
        # back" (Python 3.11); before, it is matched as tokens of its own and skipped.
        if skip_ahead is None:
            skip_ahead = sys.version_info >= (3, 11)
        group, prefix = 1, ""
        skipped: list[str] = []
        if skip_ahead:
            skipped = [t.pattern.to_regexp() for t in terminals if t.name in ignore]
            prefix = "(?:" + "|".join(skipped) + ")*+" if skipped else ""
            group += re.compile(prefix).groups
        pieces, kinds, starts = [], {}, []
        for t in terminals:
            if skip_ahead and t.name in ignore:
                continue
            regexp = t.pattern.to_regexp()
            pieces.append(f"({regexp})")
            starts.append((str(t.name), group))
            kinds[group] = str(t.name)
            group += 1 + re.compile(regexp).groups
        ending = r"|\Z" if skip_ahead else ""
        self.master = re.compile(prefix + "(?:" + "|".join(pieces) + ending + ")")
        #: the terminal each group of ``master`` matches (``None``: ignored text, the end);
        #: the names are interned, so the loops compare them by identity
        self.kind_list: list[str | None] = [None] * (self.master.groups + 1)
        for index, name in kinds.items():
            self.kind_list[index] = None if name in ignore else sys.intern(name)
        self.drop_in_parens, self.open_paren, self.close_paren = (
            sys.intern(drop_in_parens), sys.intern(open_paren), sys.intern(close_paren))

        # The scanner of tokens(): first the pairs, each two groups (its first terminal in
        # an atomic group, so that it matches as it would alone; then ignored text, then
        # the second terminal), then ``master``'s terminals, then any one character where
        # no terminal matches (its last group), so that its matches follow without gaps.
        regexps = {str(t.name): t.pattern.to_regexp() for t in terminals}
        special = {self.drop_in_parens, self.open_paren, self.close_paren, *ignore}
        pairs = [pair for pair in pairs if skip_ahead and not special & set(pair)]
        pair_pieces = [f"((?>{regexps[a]})){prefix}((?>{regexps[b]}))" for a, b in pairs]
        pair_groups = sum(re.compile(piece).groups for piece in pair_pieces)
        # The pairs go just before the first of their first terminals (a terminal before
        # that one never matches where a pair does: lark's lexer would read it instead), so
        # that the commonest tokens, names, are tried first.
        firsts = {a for a, _ in pairs}
        cut = next((k for k, (name, _) in enumerate(starts) if name in firsts), len(starts))
        cut_group = starts[cut][1] if cut < len(starts) else self.master.groups + 1
        self.scanner = re.compile(prefix + "(?:" + "".join(p + "|" for p in pieces[:cut] + pair_pieces)
                                  + "|".join(pieces[cut:]) + ending + r"|([\s\S]))")
        self.stray = self.scanner.groups
        #: the terminal each group of ``scanner`` matches (``None``: ignored text, the end, a
        #: stray character; ``PAIR``: the second terminal of a pair)
        self.scan_kinds: list[str | None] = [None] * (self.scanner.groups + 1)
        for index in kinds:
            self.scan_kinds[index + (pair_groups if index >= cut_group else 0)] = self.kind_list[index]
        self._runs([run for run in runs if skip_ahead and prefix and (run[1][0], run[2]) in pairs],
                   regexps, skipped)
        self._statements(statements if skip_ahead and prefix else (), regexps, prefix)
        group = cut_group
        #: per group of a pair's second terminal: the group of its first, and both terminals
        self.pairs: dict[int, tuple[int, str, str]] = {}
        for (a, b), piece in zip(pairs, pair_pieces):
            second = group + 1 + re.compile(regexps[a]).groups + re.compile(prefix).groups
            self.scan_kinds[second] = PAIR
            self.pairs[second] = (group, sys.intern(a), sys.intern(b))
            group += re.compile(piece).groups
        #: the terminals that open, close or are dropped in parentheses are not plain
        self.plain = frozenset(self.kind_list) - {None, self.drop_in_parens, self.open_paren,
                                                   self.close_paren}

        parser = frontend.parser.parser  # lark's _Parser: parse table and callbacks
        table = parser.parse_table
        rule_index: dict = {}
        #: per rule: (length, builder, origin name), builder None for a rule that passes
        #: its one child through (``?rule`` with one child)
        self.rules: list[tuple[int, Callable | None, str]] = []
        for rule, callback in parser.callbacks.items():
            rule_index[rule] = len(self.rules)
            size = len(rule.expansion)
            unit = size == 1 and isinstance(callback, ExpandSingleChild)
            key = (str(rule.alias or rule.origin.name), tuple(str(s.name) for s in rule.expansion))
            build = None if unit else builders.get(key)
            if build is None and not unit:
                self.usable = False  # a rule without a builder: lark reads every text
            self.rules.append((size, build, str(rule.origin.name)))
        #: per state: terminal or rule name -> next state (>= 0) or ~rule index (reduce)
        self.actions: dict[int, dict[str, int]] = {
            state: {
                str(name): (arg if action is Shift else ~rule_index[arg])
                for name, (action, arg) in acts.items()
            }
            for state, acts in table.states.items()
        }
        (start,) = parser.parse_table.start_states.values()
        (end,) = parser.parse_table.end_states.values()
        self.start, self.end = start, end

    def _runs(self, runs: Sequence[tuple[str, Sequence[str], str, Sequence[str], str | None]],
              regexps: Mapping[str, str], skipped: Sequence[str]) -> None:
        """The regular expressions of ``runs`` (one tried at a pair of an operator and an
        operand of a run that follows another such pair: ``*C`` in ``A*B*C*D``)."""
        #: per first terminal of a pair: the kind of run it may start, and its matcher
        self.run_starts: dict[str, tuple[str, Callable]] = {}
        #: per kind of run: the regular expression of one operator and operand of it, in
        #: six groups (ignored text, the operator, ignored text, the operand, ignored text
        #: and the postfix operator after it, or empty)
        self.run_pieces: dict[str, re.Pattern[str]] = {}
        #: per kind of run: the terminal of each operator's text met so far
        self.run_operators: dict[str, dict[str, str]] = {}
        #: per kind of run: its operators' terminals, its operand's and its postfix's
        self.run_terminals: dict[str, tuple[tuple[str, ...], str, str | None]] = {}
        #: the postfix operators an operand of a run may have
        self.run_postfixes: frozenset[str] = frozenset(sys.intern(run[4]) for run in runs if run[4])
        # Ignored text, or new lines (dropped in parentheses: an operand followed by a new
        # line and a call's parenthesis is not taken for a plain one, also outside them).
        skip = "(?:" + "|".join([*skipped, regexps[self.drop_in_parens]]) + ")*+"
        between = "(?:" + "|".join(skipped) + ")*+"
        for kind, operators, operand, after, postfix in runs:
            kind = sys.intern(kind)
            op = "(?>" + "|".join(regexps[t] for t in operators) + ")"
            name = f"(?>{regexps[operand]})"
            post = f"(?:{between}(?>{regexps[postfix]}))?" if postfix else ""
            plain = f"(?!{skip}(?:" + "|".join(regexps[t] for t in after) + "))"
            run = re.compile(f"(?:{between}{op}{between}{name}{post}{plain}){{2,{RUN_LENGTH}}}")
            if run.groups:  # (a terminal with groups of its own: no runs)
                continue
            post = f"(?:({between})((?>{regexps[postfix]})))?" if postfix else "()()"
            self.run_pieces[kind] = re.compile(f"({between})({op})({between})({name}){post}{plain}")
            self.run_operators[kind] = {}
            self.run_terminals[kind] = (tuple(map(sys.intern, operators)), sys.intern(operand),
                                        sys.intern(postfix) if postfix else None)
            start = (kind, run.match)
            for terminal in operators:
                self.run_starts[sys.intern(terminal)] = start
        self.operand_ends |= set(self.run_pieces)  # (a run ends with an operand)

    def _statements(self, forms: Sequence[tuple[str, Sequence[str | tuple[str, str]], Sequence[str]]],
                    regexps: Mapping[str, str], prefix: str) -> None:
        """The one regular expression of ``forms``, tried where a statement begins (at the
        start of a text or part, after a new line outside parentheses)."""
        #: per kind of statement token: the group of each of its terminals in its match
        self.statement_groups: dict[str, tuple[int, ...]] = {}
        #: per kind of statement token: its terminals
        self.statement_terminals: dict[str, tuple[str, ...]] = {}
        #: per last group of a form: its kind of token
        self.statement_kinds: dict[int, str] = {}
        self.statement_start: Callable | None = None
        #: the text every form has as its second token (a declaration's ``:``), if one: a
        #: line without it near its start is not tried
        self.statement_mark: str | None = None
        patterns = {str(t.name): t.pattern for t in self.lark.terminals}
        seconds = {terminals[1] for _, terminals, _ in forms if len(terminals) > 1}
        if len(seconds) == 1 and all(len(terminals) > 1 for _, terminals, _ in forms):
            (second,) = seconds
            if isinstance(second, str) and patterns[second].type == "str":
                self.statement_mark = patterns[second].value
        alternatives, group = [], 1
        for kind, terminals, ends in forms:
            kind = sys.intern(kind)
            pieces, groups, names = [], [], []
            for terminal in terminals:
                name, words = (terminal, None) if isinstance(terminal, str) else terminal
                word = f"(?:{words})(?!\\w)" if words else f"(?>{regexps[name]})"
                pieces.append(f"({word})")
                groups.append(group)
                names.append(sys.intern(name))
                group += 1
            follow = "|".join([*(regexps[t] for t in ends), r"\Z"])
            alternatives.append(prefix.join(pieces) + f"(?={prefix}(?:{follow}))")
            self.statement_groups[kind] = tuple(groups)
            self.statement_terminals[kind] = tuple(names)
            self.statement_kinds[groups[-1]] = kind
        if alternatives:
            statement = re.compile(prefix + "(?:" + "|".join(alternatives) + ")")
            if statement.groups == group - 1:  # (no terminal with groups of its own)
                self.statement_start = statement.match

    def statement_tokens(self, text: str, kind: str, start: int, end: int
                         ) -> tuple[list[str], list[tuple[int, int]]]:
        """The tokens of the statement of ``kind`` at ``text[start:end]``, one by one."""
        match = self.statement_start(text, start)
        return list(self.statement_terminals[kind]), [match.span(g) for g in self.statement_groups[kind]]

    def run_terminal(self, kind: str, op: str) -> str:
        """The terminal of the operator ``op`` in a run of ``kind``."""
        known = self.run_operators[kind]
        terminal = known.get(op)
        if terminal is None:
            regexps = {str(t.name): t.pattern.to_regexp() for t in self.lark.terminals}
            operators = self.run_terminals[kind][0]
            terminal = known[op] = next(t for t in operators if re.fullmatch(regexps[t], op))
        return terminal

    def run_tokens(self, text: str, kind: str, start: int, end: int
                   ) -> tuple[list[str], list[tuple[int, int]]]:
        """The tokens of the run of ``kind`` at ``text[start:end]``, one by one."""
        kinds: list[str] = []
        spans: list[tuple[int, int]] = []
        _, operand, postfix = self.run_terminals[kind]
        pos = start
        for skipped, op, blank, name, before, post in self.run_pieces[kind].findall(text, start, end):
            op_start = pos + len(skipped)
            op_end = op_start + len(op)
            name_start = op_end + len(blank)
            pos = name_start + len(name)
            kinds += (self.run_terminal(kind, op), operand)
            spans += ((op_start, op_end), (name_start, pos))
            if post:
                post_start = pos + len(before)
                pos = post_start + len(post)
                kinds.append(postfix)
                spans.append((post_start, pos))
        return kinds, spans

    # ------------------------------------------------------------ parsing

    def parse(self, text: str):
        """What ``lark_parser.parse(text)`` returns; lark's own error if the text has one."""
        try:
            return self.run(text)
        except NotFast:
            with reading(text):
                return self.lark.parse(text)

    def tokens(self, text: str, pos: int = 0, limit: int | None = None, depth: int = 0
               ) -> tuple[list[str], list[tuple[int, int]]]:
        """The kinds and offsets ``(start, end)`` of the tokens of ``text`` from ``pos`` on
        (new lines in parentheses dropped), ending with ``$END``; :class:`NotFast` at a
        character no terminal matches.

        With a ``limit``, the tokens end instead with :data:`MORE` (in place of offsets:
        where to go on, and the ``depth`` of parentheses there) after ``limit`` tokens, when
        the text goes on, at the first new line outside parentheses or before the first of
        ``splits`` (pairs read in one match whose first token is an infix operator) after an
        operand: a large model is read a part at a time, and its tokens need not all be held
        at once."""
        if not self.usable:
            raise NotFast("the grammar needs lark's general machinery")
        kinds, pairs = self.scan_kinds, self.pairs
        dropped, opening, closing = self.drop_in_parens, self.open_paren, self.close_paren
        out_kinds: list[str] = []
        out_spans: list[tuple[int, int]] = []
        add_kind, add_span = out_kinds.append, out_spans.append
        stray, plain = self.stray, self.plain
        if limit is None:
            limit = len(text) + 1  # (more than there are tokens)
        splits, operand_ends, run_starts = self.splits, self.operand_ends, self.run_starts
        postfixes = self.run_postfixes
        scan = self.scanner.finditer
        statement_start, statement_kinds = self.statement_start, self.statement_kinds
        mark = self.statement_mark
        if statement_start and not depth and (not pos or text[pos - 1] == "\n"):
            statement = statement_start(text, pos)  # (a statement begins here)
            if statement:
                add_kind(statement_kinds[statement.lastindex])
                add_span(statement.span())  # (its match is made again where it is read)
                pos = statement.end()
        while True:  # (from the start, and again after each run or statement read whole)
            for m in scan(text, pos):
                group = m.lastindex
                kind = kinds[group or 0]
                if kind is PAIR:  # two tokens (the commonest match in a long expression)
                    first, kind, second = pairs[group]
                    if len(out_kinds) >= limit and kind in splits and out_kinds[-1] in operand_ends:
                        add_kind(MORE)
                        add_span((m.start(), depth))
                        return out_kinds, out_spans
                    last = out_kinds[-1] if out_kinds else None
                    if last is second:  # after a pair like this one (``*B`` in ``A*B*C``)
                        before = -2
                    elif last in postfixes and len(out_kinds) > 2 and out_kinds[-2] is second:
                        before = -3  # (after ``*Bᵀ`` in ``A*Bᵀ*Cᵀ``)
                    else:
                        before = 0
                    if before and len(out_kinds) >= -before:  # a run?
                        starts = run_starts.get(kind)
                        run = (starts and run_starts.get(out_kinds[before]) is starts
                               and starts[1](text, m.start(first)))
                        if run:  # more operators and operands like these: one token
                            add_kind(starts[0])
                            add_span(run.span())
                            pos = run.end()
                            break
                    add_kind(kind)
                    add_span(m.span(first))
                    add_kind(second)
                    add_span(m.span(group))
                    continue
                if kind in plain:  # most other tokens: nothing to note
                    add_kind(kind)
                    add_span(m.span(group))
                    continue
                if kind is None:  # the end, ignored text, or a character no terminal matches
                    if group == stray:
                        raise NotFast("unexpected character")
                    continue
                if kind is opening:
                    depth += 1
                elif kind is closing:
                    if depth:
                        depth -= 1
                elif kind is dropped:
                    if depth:
                        continue
                    add_kind(kind)
                    add_span(m.span(group))
                    if len(out_kinds) > limit and m.end() < len(text):
                        add_kind(MORE)
                        add_span((m.end(), 0))
                        return out_kinds, out_spans
                    end = m.end()
                    marked = mark is None or text.find(mark, end, end + _MARKED) >= 0
                    statement = statement_start and marked and statement_start(text, end)
                    if statement:  # a statement of a form read whole
                        add_kind(statement_kinds[statement.lastindex])
                        add_span(statement.span())
                        pos = statement.end()
                        break
                    continue
                add_kind(kind)
                add_span(m.span(group))
            else:
                break
        add_kind(_END)
        add_span((len(text), len(text)))
        return out_kinds, out_spans

    def run(self, text: str):
        """The parse of ``text``, or :class:`NotFast` at its first error.

        One loop reads a token (the tokens lark's lexer and post-lexer give) and feeds it
        to the LALR automaton; the state on top of the stack is kept in ``state``. A token
        is pushed as its offsets ``(start, end)``; the builders read its text from the
        :class:`~matcalc.syntax.Source` they are given.
        """
        if not self.usable:
            raise NotFast("the grammar needs lark's general machinery")
        source = Source(text)
        kinds = self.kind_list
        dropped, opening, closing = self.drop_in_parens, self.open_paren, self.close_paren
        actions, rules = self.actions, self.rules
        size = len(text)
        pos = depth = 0
        state = self.start
        states: list[int] = []  # the states below ``state``
        values: list = []
        push_state, push_value = states.append, values.append
        for m in self.master.finditer(text):
            if m.start() != pos:
                raise NotFast("unexpected character")
            pos = m.end()
            group = m.lastindex
            kind = kinds[group or 0]
            if kind is None:  # the end, or ignored text
                continue
            if kind is opening:
                depth += 1
            elif kind is closing:
                if depth:
                    depth -= 1
            elif kind is dropped and depth:
                continue
            tok = m.span(group)
            while True:
                act = actions[state].get(kind)
                if act is None:
                    raise NotFast("unexpected token")
                if act >= 0:  # shift
                    push_state(state)
                    push_value(tok)
                    state = act
                    break
                length, build, origin = rules[~act]
                if build is None:  # one child passed through: only the state changes
                    state = actions[states[-1]][origin]
                    continue
                if length == 1:
                    values[-1] = build(values[-1:], source)
                elif length:
                    children = values[-length:]
                    del values[-length:]
                    del states[1 - length:]
                    push_value(build(children, source))
                else:
                    push_state(state)
                    push_value(build([], source))
                state = actions[states[-1]][origin]
        if pos != size:
            raise NotFast("unexpected character")
        end = self.end
        while True:
            act = actions[state].get("$END")
            if act is None or act >= 0:
                raise NotFast("unexpected end")
            length, build, origin = rules[~act]
            if build is not None:
                if length:
                    children = values[-length:]
                    del values[-length:]
                    if length > 1:
                        del states[1 - length:]
                    push_value(build(children, source))
                else:
                    push_state(state)
                    push_value(build([], source))
            state = actions[states[-1]][origin]
            if state == end:
                return values[-1]
