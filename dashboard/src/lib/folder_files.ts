// Turns what the user picked (a folder from <input webkitdirectory>, or a drag and drop) into
// the list of files to deploy, with paths relative to the folder they chose.

export interface FolderFile {
  path: string; // relative, "/"-separated, no leading slash: "css/site.css"
  file: Blob;
}

export interface FolderSelection {
  files: FolderFile[];
  skipped: string[]; // paths left out (dot files, node_modules, __MACOSX)
  folderName: string | null; // the chosen folder's own name, when there was one
}

// Paths netlify-cli leaves out of a deploy too: any part starting with "." (except
// .well-known), node_modules and macOS archive leftovers.
export function isSkippedPath(path: string): boolean {
  return path
    .split("/")
    .some(
      (part) =>
        (part.startsWith(".") && part !== ".well-known") ||
        part === "node_modules" ||
        part === "__MACOSX",
    );
}

function selection(entries: FolderFile[], folderName: string | null): FolderSelection {
  const files: FolderFile[] = [];
  const skipped: string[] = [];
  for (const entry of entries) {
    if (entry.path === "") continue;
    if (isSkippedPath(entry.path)) skipped.push(entry.path);
    else files.push(entry);
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, skipped, folderName };
}

// Splits "site/css/a.css" into the chosen folder ("site") and the path inside it.
function stripTopFolder(relativePath: string): { top: string | null; rest: string } {
  const clean = relativePath.replace(/^\/+/, "");
  const slash = clean.indexOf("/");
  if (slash < 0) return { top: null, rest: clean };
  return { top: clean.slice(0, slash), rest: clean.slice(slash + 1) };
}

// Files from <input type="file" webkitdirectory>: each carries webkitRelativePath
// "<chosen folder>/<path inside it>". Without that (a plain multi-file input) files sit at the
// root under their own names.
export function filesFromInput(list: ArrayLike<File>): FolderSelection {
  const entries: FolderFile[] = [];
  let folderName: string | null = null;
  for (let i = 0; i < list.length; i++) {
    const file = list[i]!;
    const relative = file.webkitRelativePath || file.name;
    const { top, rest } = stripTopFolder(relative);
    if (top !== null) folderName ??= top;
    entries.push({ path: rest, file });
  }
  return selection(entries, folderName);
}

// --- Drag and drop (the File and Directory Entries API) ----------------------------------------

// The minimal parts of FileSystemEntry that the walk needs (also easy to fake in tests).
export interface DroppedEntry {
  isFile: boolean;
  isDirectory: boolean;
  name: string;
}
interface DroppedFileEntry extends DroppedEntry {
  file(ok: (file: File) => void, fail?: (e: unknown) => void): void;
}
interface DroppedDirectoryEntry extends DroppedEntry {
  createReader(): {
    readEntries(ok: (entries: DroppedEntry[]) => void, fail?: (e: unknown) => void): void;
  };
}

// Must be called synchronously inside the drop event: the items are gone after it.
export function entriesFromDrop(data: DataTransfer): DroppedEntry[] {
  const entries: DroppedEntry[] = [];
  for (let i = 0; i < data.items.length; i++) {
    const item = data.items[i]!;
    if (item.kind !== "file") continue;
    const entry = item.webkitGetAsEntry?.();
    if (entry) entries.push(entry as unknown as DroppedEntry);
  }
  return entries;
}

function fileOf(entry: DroppedFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

async function childrenOf(entry: DroppedDirectoryEntry): Promise<DroppedEntry[]> {
  const reader = entry.createReader();
  const all: DroppedEntry[] = [];
  // readEntries answers in batches (100 in Chromium) until it answers with none.
  for (;;) {
    const batch = await new Promise<DroppedEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, reject),
    );
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

async function walk(entry: DroppedEntry, prefix: string, out: FolderFile[]): Promise<void> {
  if (entry.isFile) {
    out.push({ path: prefix + entry.name, file: await fileOf(entry as DroppedFileEntry) });
  } else if (entry.isDirectory) {
    if (isSkippedPath(entry.name)) {
      out.push({ path: prefix + entry.name, file: new Blob() }); // listed as skipped, not read
      return;
    }
    for (const child of await childrenOf(entry as DroppedDirectoryEntry)) {
      await walk(child, prefix + entry.name + "/", out);
    }
  }
}

// One dropped folder deploys its contents; several dropped items deploy as they are.
export async function filesFromDrop(entries: DroppedEntry[]): Promise<FolderSelection> {
  const out: FolderFile[] = [];
  const only = entries.length === 1 ? entries[0]! : null;
  if (only !== null && only.isDirectory) {
    for (const child of await childrenOf(only as DroppedDirectoryEntry)) await walk(child, "", out);
    return selection(out, only.name);
  }
  for (const entry of entries) await walk(entry, "", out);
  return selection(out, null);
}
