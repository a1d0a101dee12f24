import { act, render, renderHook, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";

import { ApiError } from "./api/errors";
import { useAsyncAction, useFormSubmit } from "./use_form_submit";

// A promise the test settles by hand, to look at the hook while the action runs.
function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const kFields = { email: "email", "build_settings.cmd": "cmd" } as const;
type Field = (typeof kFields)[keyof typeof kFields];

describe("useAsyncAction", () => {
  it("is busy while the action runs and keeps what it threw", async () => {
    const { result } = renderHook(() => useAsyncAction());
    const first = deferred();
    let ran!: Promise<boolean>;
    act(() => {
      ran = result.current.run(() => first.promise);
    });
    expect(result.current.busy).toBe(true);
    expect(result.current.error).toBeNull();

    const failure = new Error("no network");
    await act(async () => {
      first.reject(failure);
      expect(await ran).toBe(false);
    });
    expect(result.current.busy).toBe(false);
    expect(result.current.error).toBe(failure);

    const second = deferred();
    act(() => {
      ran = result.current.run(() => second.promise);
    });
    expect(result.current.busy).toBe(true);
    expect(result.current.error).toBeNull(); // a new run forgets the old error
    await act(async () => {
      second.resolve();
      expect(await ran).toBe(true);
    });
    expect(result.current.busy).toBe(false);
    expect(result.current.error).toBeNull();
  });

  it("stays busy after a success when the page is leaving, not after a failure", async () => {
    const { result } = renderHook(() => useAsyncAction({ leavesPage: true }));
    await act(async () => {
      await result.current.run(() => Promise.reject(new Error("refused")));
    });
    expect(result.current.busy).toBe(false);
    await act(async () => {
      await result.current.run(() => Promise.resolve());
    });
    expect(result.current.busy).toBe(true);
  });

  it("clears the error on request", async () => {
    const { result } = renderHook(() => useAsyncAction());
    await act(async () => {
      await result.current.run(() => Promise.reject(new Error("refused")));
    });
    act(() => result.current.clearError());
    expect(result.current.error).toBeNull();
  });
});

describe("useFormSubmit", () => {
  it("puts an API error next to the field it names, under the form's name for it", async () => {
    const { result } = renderHook(() => useFormSubmit<Field>(kFields));
    await act(async () => {
      await result.current.submit(() =>
        Promise.reject(new ApiError(422, "unprocessable", "build_settings.cmd must be a string")),
      );
    });
    expect(result.current.errors).toEqual({ fields: { cmd: "Build_settings.cmd must be a string" }, form: null });
    expect(result.current.busy).toBe(false);
  });

  it("puts an error about no known field on the whole form, and clears it on the next submit", async () => {
    const { result } = renderHook(() => useFormSubmit<Field>(kFields));
    await act(async () => {
      await result.current.submit(() => Promise.reject(new ApiError(401, "unauthorized", "invalid email or password")));
    });
    expect(result.current.errors).toEqual({ fields: {}, form: "Invalid email or password" });

    const pending = deferred();
    act(() => {
      void result.current.submit(() => pending.promise);
    });
    expect(result.current.errors).toEqual({ fields: {}, form: null });
    expect(result.current.busy).toBe(true);
    await act(async () => pending.resolve());
  });

  it("keeps the same errors object across renders, so focus moves once per failure", async () => {
    const { result, rerender } = renderHook(() => useFormSubmit<Field>({ ...kFields }));
    await act(async () => {
      await result.current.submit(() => Promise.reject(new ApiError(400, "bad_request", "email is required")));
    });
    const errors = result.current.errors;
    rerender();
    expect(result.current.errors).toBe(errors);
  });

  it("shows a failed check before sending instead of an earlier API error", async () => {
    const { result } = renderHook(() => useFormSubmit<Field>(kFields));
    await act(async () => {
      await result.current.submit(() => Promise.reject(new ApiError(409, "conflict", "the site changed")));
    });
    act(() => result.current.setFieldErrors({ email: "Email is required" }));
    expect(result.current.errors).toEqual({ fields: { email: "Email is required" }, form: null });
  });

  it("moves focus to the first invalid field after a failed submit", async () => {
    function Form({ send }: { send: () => Promise<unknown> }) {
      const { busy, errors, formRef, submit } = useFormSubmit<Field>(kFields);
      return (
        <form
          ref={formRef}
          onSubmit={(e) => {
            e.preventDefault();
            void submit(send);
          }}
        >
          <input aria-label="Email" aria-invalid={errors.fields.email ? true : undefined} />
          <input aria-label="Command" aria-invalid={errors.fields.cmd ? true : undefined} />
          <button type="submit" disabled={busy}>
            Save
          </button>
        </form>
      );
    }
    render(<Form send={() => Promise.reject(new ApiError(422, "unprocessable", "build_settings.cmd must be a string"))} />);
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    await waitFor(() => expect(screen.getByLabelText("Command")).toHaveFocus());
    expect(screen.getByLabelText("Command")).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByLabelText("Email")).not.toHaveAttribute("aria-invalid");
    expect(screen.getByRole("button", { name: "Save" })).toBeEnabled();
  });
});
