"use client";

// Small building blocks every screen uses: buttons, cards, notices and text fields.

import { useId, useState, type ButtonHTMLAttributes, type ReactNode } from "react";

const focusRing =
  "focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-teal-600";

const buttonKinds = {
  primary: "bg-teal-700 text-white hover:bg-teal-800 disabled:bg-teal-700/50",
  secondary:
    "border border-slate-300 bg-white text-slate-800 hover:bg-slate-50 disabled:text-slate-400",
  danger: "bg-red-700 text-white hover:bg-red-800 disabled:bg-red-700/50",
  quiet: "text-teal-800 hover:bg-teal-50 disabled:text-slate-400",
} as const;

export type ButtonKind = keyof typeof buttonKinds;

export function buttonClass(kind: ButtonKind = "primary", extra = ""): string {
  return `inline-flex min-h-10 items-center justify-center gap-2 rounded-md px-4 py-2 text-sm font-medium transition-colors disabled:cursor-not-allowed ${focusRing} ${buttonKinds[kind]} ${extra}`;
}

export function Button({
  kind = "primary",
  className = "",
  type = "button",
  ...rest
}: ButtonHTMLAttributes<HTMLButtonElement> & { kind?: ButtonKind }) {
  return <button type={type} className={buttonClass(kind, className)} {...rest} />;
}

export function Card({
  title,
  description,
  actions,
  children,
  className = "",
}: {
  title?: ReactNode;
  description?: ReactNode;
  actions?: ReactNode;
  children?: ReactNode;
  className?: string;
}) {
  const headingId = useId();
  return (
    <section
      aria-labelledby={title !== undefined ? headingId : undefined}
      className={`rounded-lg border border-slate-200 bg-white p-4 shadow-sm sm:p-6 ${className}`}
    >
      {(title !== undefined || actions !== undefined) && (
        <div className="mb-4 flex flex-wrap items-start justify-between gap-3">
          <div>
            {title !== undefined && (
              <h2 id={headingId} className="text-lg font-semibold text-slate-900">
                {title}
              </h2>
            )}
            {description !== undefined && (
              <p className="mt-1 text-sm text-slate-600">{description}</p>
            )}
          </div>
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

export function PageTitle({ children, subtitle }: { children: ReactNode; subtitle?: ReactNode }) {
  return (
    <div className="mb-6">
      <h1 className="text-2xl font-bold tracking-tight break-words text-slate-900">{children}</h1>
      {subtitle !== undefined && <div className="mt-1 text-sm text-slate-600">{subtitle}</div>}
    </div>
  );
}

export function LoadingNotice({ children = "Loading…" }: { children?: ReactNode }) {
  return (
    <div role="status" aria-live="polite" className="flex items-center gap-3 py-6 text-slate-600">
      <span
        aria-hidden="true"
        className="h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-teal-700"
      />
      {children}
    </div>
  );
}

export function ErrorNotice({
  title = "Something went wrong",
  children,
  onRetry,
}: {
  title?: ReactNode;
  children: ReactNode;
  onRetry?: () => void;
}) {
  return (
    <div role="alert" className="rounded-md border border-red-200 bg-red-50 p-4 text-sm text-red-900">
      <p className="font-semibold">{title}</p>
      <p className="mt-1 break-words">{children}</p>
      {onRetry !== undefined && (
        <Button kind="secondary" className="mt-3" onClick={onRetry}>
          Try again
        </Button>
      )}
    </div>
  );
}

export function SuccessNotice({ children }: { children: ReactNode }) {
  return (
    <div
      role="status"
      className="rounded-md border border-emerald-200 bg-emerald-50 p-3 text-sm text-emerald-900"
    >
      {children}
    </div>
  );
}

export function EmptyState({ title, children }: { title: ReactNode; children?: ReactNode }) {
  return (
    <div className="rounded-lg border-2 border-dashed border-slate-300 bg-white p-6 text-center sm:p-10">
      <h2 className="text-lg font-semibold text-slate-900">{title}</h2>
      {children !== undefined && <div className="mt-2 text-sm text-slate-600">{children}</div>}
    </div>
  );
}

// A labelled text input with its error below it, tied together for screen readers.
export function TextField({
  label,
  name,
  value,
  onChange,
  error,
  hint,
  type = "text",
  autoComplete,
  required,
  placeholder,
  inputMode,
  autoFocus,
}: {
  label: string;
  name: string;
  value: string;
  onChange: (value: string) => void;
  error?: string | null;
  hint?: ReactNode;
  type?: string;
  autoComplete?: string;
  required?: boolean;
  placeholder?: string;
  inputMode?: "text" | "email" | "url";
  autoFocus?: boolean;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint !== undefined ? hintId : null, error ? errorId : null]
    .filter(Boolean)
    .join(" ");
  return (
    <div>
      <label htmlFor={id} className="block text-sm font-medium text-slate-800">
        {label}
        {required && <span className="text-red-700"> *</span>}
      </label>
      <input
        id={id}
        name={name}
        type={type}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        autoComplete={autoComplete}
        required={required}
        placeholder={placeholder}
        inputMode={inputMode}
        autoFocus={autoFocus}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        className={`mt-1 block w-full rounded-md border px-3 py-2 text-base text-slate-900 shadow-sm sm:text-sm ${focusRing} ${
          error ? "border-red-600" : "border-slate-300"
        }`}
      />
      {hint !== undefined && (
        <p id={hintId} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      )}
      {error && (
        <p id={errorId} className="mt-1 text-sm text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}

// Copies `text` to the clipboard and says so.
// `label` names what is copied for screen readers ("Copy token"); the button shows "Copy".
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState<"no" | "yes" | "failed">("no");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("yes");
    } catch {
      setCopied("failed");
    }
    setTimeout(() => setCopied("no"), 2000);
  };
  return (
    <Button kind="secondary" onClick={() => void copy()} className="w-full shrink-0 sm:w-28" aria-label={label}>
      <span aria-live="polite">
        {copied === "yes" ? "Copied" : copied === "failed" ? "Select it" : "Copy"}
      </span>
    </Button>
  );
}

// A command or secret in monospace, selectable, with a copy button.
export function CopyableText({ text, label }: { text: string; label?: string }) {
  return (
    <div className="flex flex-col gap-2 sm:flex-row sm:items-center">
      <code className="block min-w-0 flex-1 overflow-x-auto rounded-md bg-slate-900 px-3 py-2 font-mono text-sm whitespace-pre text-slate-100 select-all">
        {text}
      </code>
      <CopyButton text={text} label={label} />
    </div>
  );
}

export function ExternalLink({
  href,
  children,
  label,
}: {
  href: string;
  children: ReactNode;
  label?: string; // the accessible name, when the text alone says too little
}) {
  return (
    <a
      href={href}
      aria-label={label}
      target="_blank"
      rel="noreferrer"
      className={`break-all text-teal-800 underline decoration-teal-800/30 underline-offset-2 hover:decoration-teal-800 ${focusRing}`}
    >
      {children}
    </a>
  );
}

export const linkClass = `text-teal-800 underline decoration-teal-800/30 underline-offset-2 hover:decoration-teal-800 ${focusRing}`;

// A labelled <select> with its hint and error, tied together for screen readers.
export function SelectField<V extends string>({
  label,
  name,
  value,
  options,
  onChange,
  hint,
  error,
}: {
  label: string;
  name: string;
  value: V;
  options: readonly { value: V; label: string }[];
  onChange: (value: V) => void;
  hint?: ReactNode;
  error?: string | null;
}) {
  const id = useId();
  const describedBy = [hint !== undefined ? `${id}-hint` : null, error ? `${id}-error` : null]
    .filter(Boolean)
    .join(" ");
  return (
    <div>
      <label htmlFor={id} className="block text-sm font-medium text-slate-800">
        {label}
      </label>
      <select
        id={id}
        name={name}
        value={value}
        onChange={(e) => onChange(e.target.value as V)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        className={`mt-1 block w-full rounded-md border bg-white px-3 py-2 text-base text-slate-900 shadow-sm sm:text-sm ${focusRing} ${
          error ? "border-red-600" : "border-slate-300"
        }`}
      >
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {hint !== undefined && (
        <p id={`${id}-hint`} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="mt-1 text-sm text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}

// A checkbox with its label and an explanation below.
export function CheckboxField({
  label,
  name,
  checked,
  onChange,
  hint,
  error,
}: {
  label: string;
  name: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  hint?: ReactNode;
  error?: string | null;
}) {
  const id = useId();
  const describedBy = [hint !== undefined ? `${id}-hint` : null, error ? `${id}-error` : null]
    .filter(Boolean)
    .join(" ");
  return (
    <div className="flex items-start gap-3">
      <input
        id={id}
        name={name}
        type="checkbox"
        checked={checked}
        onChange={(e) => onChange(e.target.checked)}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        className={`mt-0.5 h-5 w-5 shrink-0 rounded border-slate-300 accent-teal-700 ${focusRing}`}
      />
      <div>
        <label htmlFor={id} className="text-sm font-medium text-slate-800">
          {label}
        </label>
        {hint !== undefined && (
          <p id={`${id}-hint`} className="text-xs text-slate-500">
            {hint}
          </p>
        )}
        {error && (
          <p id={`${id}-error`} className="text-sm text-red-700">
            {error}
          </p>
        )}
      </div>
    </div>
  );
}

export function InfoNotice({ title, children }: { title?: ReactNode; children: ReactNode }) {
  return (
    <div className="rounded-md border border-sky-200 bg-sky-50 p-4 text-sm text-sky-950">
      {title !== undefined && <p className="font-semibold">{title}</p>}
      <div className={title !== undefined ? "mt-1" : ""}>{children}</div>
    </div>
  );
}
