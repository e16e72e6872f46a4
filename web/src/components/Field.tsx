import { useId, type InputHTMLAttributes } from "react";

/** A labelled input with its error under it, tied together for screen readers. */
export function Field(
  props: InputHTMLAttributes<HTMLInputElement> & { label: string; error?: string | null; hint?: string },
) {
  const { label, error, hint, ...input } = props;
  const id = useId();
  const note = error ? `${id}-error` : hint ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} aria-invalid={error ? true : undefined} aria-describedby={note} {...input} />
      {error ? (
        <p className="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      ) : hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
    </div>
  );
}

/** The API's own message for a failed call. */
export function Problem({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <p className="problem" role="alert">
      {message}
    </p>
  );
}
