/** Whether a console socket that closed with `code` is attached again: when the credential it
 *  was opened with lapsed (4401: an access token lives a quarter hour; `socket` gets a fresh
 *  one), and, a few times, when that new attach was refused before it opened. */
export function reattach(code: number, opened: boolean, again: number): boolean {
  if (opened) return code === 4401;
  return again > 0 && again < 5;
}
