"use client";

// After a failed submit, moves keyboard focus to the first field marked invalid (or to the
// form's error notice), so keyboard and screen-reader users land on what needs fixing.

import { useEffect, useRef } from "react";

export function useFocusFirstError(errors: unknown) {
  const ref = useRef<HTMLFormElement>(null);
  useEffect(() => {
    const form = ref.current;
    if (form === null) return;
    const target =
      form.querySelector<HTMLElement>('[aria-invalid="true"]') ??
      form.querySelector<HTMLElement>('[role="alert"]');
    if (target === null) return;
    if (target.getAttribute("role") === "alert" && !target.hasAttribute("tabindex")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
  }, [errors]);
  return ref;
}
