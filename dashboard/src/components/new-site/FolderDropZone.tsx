"use client";

// Where the user drops a folder (or picks one with "Choose folder"). Hands the collected files
// to `onFiles`; reading a dropped folder happens here, hashing and uploading elsewhere.

import { useRef, useState, type DragEvent } from "react";

import {
  entriesFromDrop,
  filesFromDrop,
  filesFromInput,
  type FolderSelection,
} from "@/lib/folder_files";
import { Button } from "@/components/ui/ui";

export function FolderDropZone({
  onFiles,
  disabled = false,
  label = "Drag and drop your site folder here",
}: {
  onFiles: (selection: FolderSelection) => void;
  disabled?: boolean;
  label?: string;
}) {
  const [over, setOver] = useState(false);
  const [reading, setReading] = useState(false);
  const [readError, setReadError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement | null>(null);

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setOver(false);
    if (disabled) return;
    const entries = entriesFromDrop(e.dataTransfer); // only valid during the event
    if (entries.length === 0) return;
    setReading(true);
    setReadError(null);
    filesFromDrop(entries)
      .then(onFiles)
      .catch(() => setReadError("The dropped folder could not be read. Try “Choose folder”."))
      .finally(() => setReading(false));
  };

  return (
    <div
      onDragOver={(e) => {
        e.preventDefault();
        if (!disabled) setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={onDrop}
      className={`flex flex-col items-center gap-3 rounded-lg border-2 border-dashed p-6 text-center transition-colors sm:p-10 ${
        over ? "border-teal-600 bg-teal-50" : "border-slate-300 bg-slate-50"
      } ${disabled ? "opacity-60" : ""}`}
    >
      <svg aria-hidden="true" viewBox="0 0 24 24" className="h-10 w-10 text-teal-700" fill="none" stroke="currentColor" strokeWidth="1.5">
        <path d="M3 7.5A1.5 1.5 0 0 1 4.5 6h4.379a1.5 1.5 0 0 1 1.06.44l1.122 1.12a1.5 1.5 0 0 0 1.06.44H19.5A1.5 1.5 0 0 1 21 9.5v8A1.5 1.5 0 0 1 19.5 19h-15A1.5 1.5 0 0 1 3 17.5v-10Z" />
        <path d="M12 16.5v-5m0 0-2 2m2-2 2 2" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <p className="font-medium text-slate-800">{reading ? "Reading the folder…" : label}</p>
      <p className="text-sm text-slate-600">
        The folder with your built site, with <code className="font-mono">index.html</code> at its
        top.
      </p>
      <input
        ref={(el) => {
          input.current = el;
          // React has no typed prop for these non-standard attributes.
          el?.setAttribute("webkitdirectory", "");
          el?.setAttribute("directory", "");
        }}
        type="file"
        multiple
        hidden
        tabIndex={-1}
        aria-hidden="true"
        data-testid="folder-input"
        onChange={(e) => {
          const list = e.target.files;
          if (list !== null && list.length > 0) onFiles(filesFromInput(list));
          e.target.value = ""; // the same folder again should still fire a change
        }}
      />
      <Button kind="secondary" disabled={disabled || reading} onClick={() => input.current?.click()}>
        Choose folder
      </Button>
      {readError !== null && (
        <p role="alert" className="text-sm text-red-700">
          {readError}
        </p>
      )}
    </div>
  );
}
