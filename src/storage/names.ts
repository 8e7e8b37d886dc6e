import { badRequest } from "../http/errors";

const encoder = new TextEncoder();
// C0 controls, DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Byte length of a string as UTF-8. */
export const utf8Length = (s: string) => encoder.encode(s).byteLength;

/**
 * A file name as the contract allows it: 1–1024 bytes of UTF-8, `/` for folders; no control
 * characters, no `.` or `..` segment, no leading `/`, no backslash. Returns it or throws 400.
 */
export function checkFileName(name: string): string {
  if (name === "") throw badRequest("The file name is empty.");
  if (!name.isWellFormed()) throw badRequest("The file name is not valid UTF-8.");
  if (utf8Length(name) > 1024) throw badRequest("The file name is longer than 1024 bytes.");
  if (CONTROL.test(name)) throw badRequest("The file name contains a control character.");
  if (name.includes("\\")) throw badRequest("The file name contains a backslash.");
  if (name.startsWith("/")) throw badRequest("The file name starts with '/'.");
  if (name.split("/").some((seg) => seg === "." || seg === "..")) {
    throw badRequest("The file name has a '.' or '..' segment.");
  }
  return name;
}

/** A memory key as the contract allows it: 1–480 bytes of UTF-8, no control characters. */
export function checkMemoryKey(key: string): string {
  if (key === "") throw badRequest("The memory key is empty.");
  if (!key.isWellFormed()) throw badRequest("The memory key is not valid UTF-8.");
  if (utf8Length(key) > 480) throw badRequest("The memory key is longer than 480 bytes.");
  if (CONTROL.test(key)) throw badRequest("The memory key contains a control character.");
  return key;
}
