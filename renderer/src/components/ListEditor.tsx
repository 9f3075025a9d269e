// SPDX-License-Identifier: Apache-2.0
// Environment: renderer. One list of an endpoint (interfaces, ranges or users): its chips with
// remove buttons and an input validated as you type. Enter adds, Escape clears the input.
import { useEffect, useId, useState, type KeyboardEvent, type ReactNode } from 'react';
import { useApp } from './hooks.js';

const MAX_PICKS = 8;

export interface ChipInfo {
  value: string;
  /** Extra content inside the chip (badges, state dots). */
  decoration?: ReactNode;
  error?: string;
  warning?: string;
}

export interface ListEditorProps {
  title: string;
  hint?: string;
  /** Accessible name of the input, e.g. "Add range". */
  inputLabel: string;
  placeholder: string;
  chipTestId: string;
  chips: ChipInfo[];
  /** Problem with the list as a whole (e.g. "names no interface"). */
  listError?: string;
  /** Values to pick from (the system's interfaces or accounts), shown as buttons under the
   * input and filtered by what is typed. Not a datalist: that would make the input a combobox. */
  suggestions?: Array<{ value: string; label?: string }>;
  /** Instead of filtering `suggestions`: the picks for what is typed (at most `limit`, none of
   * those `listed`) and how many more match (the accounts picker: every user and group). */
  search?(
    text: string,
    limit: number,
    listed: ReadonlySet<string>,
  ): { picks: Array<{ value: string; label?: string }>; more: number };
  /** Identifies the input for the store, which blocks Apply while typed text is invalid. */
  inputKey: string;
  /** As-you-type check of the text in the input. */
  check(text: string): { error?: string; warning?: string; badge?: ReactNode };
  /** Adds the value; returns why it was refused, or null. */
  onAdd(text: string): string | null;
  onRemove(index: number): void;
}

export function ListEditor(p: ListEditorProps) {
  const [text, setText] = useState('');
  const [refused, setRefused] = useState<string | null>(null);
  const id = useId();
  const trimmed = text.trim();
  const live = trimmed ? p.check(trimmed) : {};
  const error = refused ?? live.error;
  const setInputError = useApp((s) => s.setInputError);
  const liveError = live.error ?? null;
  useEffect(() => {
    setInputError(p.inputKey, liveError);
    return () => setInputError(p.inputKey, null);
  }, [p.inputKey, liveError, setInputError]);
  const listed = new Set(p.chips.map((c) => c.value));
  const needle = trimmed.toLowerCase();
  let picks: Array<{ value: string; label?: string }>;
  let more = 0;
  if (p.search) {
    ({ picks, more } = p.search(trimmed, MAX_PICKS, listed));
  } else {
    picks = (p.suggestions ?? [])
      .filter((x) => !listed.has(x.value) && (!needle || x.value.toLowerCase().includes(needle)))
      .slice(0, MAX_PICKS);
  }

  const add = (value = trimmed) => {
    if (!value) return;
    const why = p.onAdd(value);
    if (why) setRefused(why);
    else {
      setText('');
      setRefused(null);
    }
  };
  const onKey = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      add();
    } else if (e.key === 'Escape') {
      if (text) e.stopPropagation();
      setText('');
      setRefused(null);
    }
  };

  return (
    <section className="list-editor" aria-labelledby={`${id}-title`}>
      <div className="list-head">
        <h3 id={`${id}-title`}>{p.title}</h3>
        {p.hint && <span className="muted small">{p.hint}</span>}
      </div>
      <ul className="chips" aria-label={p.title}>
        {p.chips.map((c, i) => (
          <li
            key={`${c.value}-${i}`}
            data-testid={p.chipTestId}
            data-value={c.value}
            className={`chip ${c.error ? 'chip-error' : c.warning ? 'chip-warning' : ''}`}
            title={c.error ?? c.warning}
          >
            {c.decoration}
            <span className="chip-text">{c.value}</span>
            <button
              type="button"
              className="chip-remove"
              aria-label={`Remove ${c.value}`}
              onClick={() => p.onRemove(i)}
            >
              ×
            </button>
          </li>
        ))}
        {p.chips.length === 0 && <li className="muted small chips-empty">none</li>}
      </ul>
      {p.chips.map((c, i) =>
        c.error ? (
          <p key={`e${i}`} className="field-error" data-testid="field-error">
            {c.error}
          </p>
        ) : c.warning ? (
          <p key={`w${i}`} className="field-warning" data-testid="field-warning">
            {c.warning}
          </p>
        ) : null,
      )}
      {p.listError && (
        <p className="field-error" data-testid="field-error">
          {p.listError}
        </p>
      )}
      <div className="add-row">
        <input
          type="text"
          aria-label={p.inputLabel}
          aria-invalid={error ? true : undefined}
          aria-describedby={error || live.warning ? `${id}-msg` : undefined}
          placeholder={p.placeholder}
          value={text}
          spellCheck={false}
          autoComplete="off"
          onChange={(e) => {
            setText(e.target.value);
            setRefused(null);
          }}
          onKeyDown={onKey}
        />
        {live.badge}
        <button
          type="button"
          className="btn btn-small"
          onClick={() => add()}
          disabled={!trimmed || !!live.error}
        >
          Add
        </button>
      </div>
      {picks.length > 0 && (
        <div className="picks" aria-label={`${p.title} on this system`} role="group">
          <span className="muted small">{trimmed ? 'Matches:' : 'On this system:'}</span>
          {picks.map((x) => (
            <button
              key={x.value}
              type="button"
              className="pick"
              aria-label={`Use ${x.value}`}
              title={x.label}
              onClick={() => add(x.value)}
            >
              {x.value}
              {x.label && <span className="muted"> {x.label}</span>}
            </button>
          ))}
          {more > 0 && (
            <span className="muted small picks-more" data-testid="picks-more">
              {more} more — keep typing
            </span>
          )}
        </div>
      )}
      {error ? (
        <p id={`${id}-msg`} className="field-error" data-testid="field-error" role="alert">
          {error}
        </p>
      ) : live.warning ? (
        <p id={`${id}-msg`} className="field-warning" data-testid="field-warning">
          {live.warning}
        </p>
      ) : null}
    </section>
  );
}
