import { useState, type FormEvent } from "react";
import { login, verifyOtp } from "../api";
import { Field, Problem } from "../components/Field";
import { Link } from "../components/Link";
import { useAction } from "../fetching";
import { navigate, safeNext, useLocation } from "../router";
import * as check from "../validate";

export function Login() {
  const { query } = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<{ token: string; methods: string[] } | null>(null);
  const [code, setCode] = useState("");
  const [codeError, setCodeError] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const next = safeNext(query.get("next"));

  async function submit(e: FormEvent) {
    e.preventDefault();
    const out = await run(() => login(email.trim(), password));
    if (!out) return;
    if ("challenge_token" in out) setChallenge({ token: out.challenge_token, methods: out.methods });
    else navigate(next, true);
  }

  async function second(e: FormEvent) {
    e.preventDefault();
    const bad = check.code(code);
    setCodeError(bad);
    if (bad || !challenge) return;
    if ((await run(() => verifyOtp(challenge.token, code.trim()).then(() => true))) !== undefined) {
      navigate(next, true);
    }
  }

  if (challenge) {
    const byEmail = challenge.methods.includes("email") && !challenge.methods.includes("totp");
    return (
      <form className="card" onSubmit={second} noValidate>
        <h2>Second factor</h2>
        <p>{byEmail ? "We emailed you a 6-digit code." : "Enter the 6-digit code your authenticator app shows."}</p>
        <Field
          label="Code"
          name="code"
          inputMode="numeric"
          autoComplete="one-time-code"
          autoFocus
          value={code}
          error={codeError}
          onChange={(e) => setCode(e.target.value)}
        />
        <Problem error={error} />
        <button type="submit" disabled={busy}>
          Verify
        </button>
      </form>
    );
  }
  return (
    <form className="card" onSubmit={submit}>
      <h2>Log in</h2>
      <Field label="Email" name="email" type="email" autoComplete="username" required value={email}
        onChange={(e) => setEmail(e.target.value)} />
      <Field label="Password" name="password" type="password" autoComplete="current-password" required
        value={password} onChange={(e) => setPassword(e.target.value)} />
      <Problem error={error} />
      <button type="submit" disabled={busy}>
        Log in
      </button>
      <p>
        No account? <Link to="/register">Register</Link>
      </p>
    </form>
  );
}
