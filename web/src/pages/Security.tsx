import { useState, type FormEvent } from "react";
import QRCode from "qrcode";
import { api, type User } from "../api";
import { Field, Problem } from "../components/Field";
import * as check from "../validate";

interface Enrolment {
  secret: string;
  otpauth_uri: string;
}

/** Turning on the authenticator app: the QR code is drawn here, from the URI the server sends. */
export function Security({ me, onChange }: { me: User | null; onChange: (u: User) => void }) {
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [codeError, setCodeError] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function start() {
    setError(null);
    try {
      const e = await api<Enrolment>("POST", "/v1/auth/totp");
      setEnrolment(e);
      setQr(await QRCode.toDataURL(e.otpauth_uri, { margin: 1, width: 220 }));
    } catch (err) {
      setError(err);
    }
  }

  async function confirm(e: FormEvent) {
    e.preventDefault();
    const bad = check.code(code);
    setCodeError(bad);
    if (bad) return;
    setError(null);
    try {
      onChange(await api<User>("POST", "/v1/auth/totp/confirm", { code: code.trim() }));
      setEnrolment(null);
    } catch (err) {
      setError(err);
    }
  }

  return (
    <section className="card wide">
      <h1>Security</h1>
      <h2>Authenticator app</h2>
      {me?.totp_enabled ? (
        <p className="ok" data-testid="totp-on">
          On: logging in asks for a code from your app.
        </p>
      ) : enrolment ? (
        <form onSubmit={confirm} noValidate>
          <p>Scan this with your authenticator app, or type the key in, then enter the code it shows.</p>
          {qr && <img src={qr} width={220} height={220} alt="QR code of the authenticator key" />}
          <p>
            Key: <code data-testid="totp-secret">{enrolment.secret}</code>
          </p>
          <Field label="Code" name="code" inputMode="numeric" autoComplete="one-time-code" value={code}
            error={codeError} onChange={(e) => setCode(e.target.value)} />
          <button type="submit">Turn on</button>
        </form>
      ) : (
        <>
          <p>Off. With it on, logging in also asks for a code from an app on your phone.</p>
          <button type="button" onClick={() => void start()}>
            Set up the authenticator app
          </button>
        </>
      )}
      <Problem error={error} />
    </section>
  );
}
