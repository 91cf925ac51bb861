/*
 * CAPA (RFC 2449) and STLS (RFC 2595): what the server offers, and the
 * in-place upgrade of port 110 to TLS.
 */
#include "core/config.h"
#include "net/conn.h"
#include "pop3/session_int.h"

/*
 * RFC 2449 section 5. The list depends on the connection, never on the
 * account: USER and SASL PLAIN send a reusable password, so they appear
 * only under TLS (RFC 2595 section 4, founding document's drawbacks);
 * SCRAM-SHA-256 proves the password without sending it, so it is always
 * offered. STLS appears only where it can be used.
 */
enum cmd_rc
pop3_cmd_capa(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	bool plain = pop3_plaintext_allowed(s);

	(void)args;
	(void)nargs;
	(void)rest;
	pop3_ok(s, "Capability list follows");
	pop3_line(s, "TOP");
	pop3_line(s, "UIDL");
	pop3_line(s, "RESP-CODES");
	pop3_line(s, "AUTH-RESP-CODE");
	pop3_line(s, "PIPELINING");
	if (plain)
		pop3_line(s, "USER");
	if (pop3_login_allowed(s))
		pop3_line(s, "SASL SCRAM-SHA-256%s", plain ? " PLAIN" : "");
	if (s->kind == SERVICE_POP3 && !pop3_is_tls(s) &&
	    s->svc->tls_ctx != NULL && (s->state & PS_AUTHORIZATION))
		pop3_line(s, "STLS");
	pop3_line(s, "IMPLEMENTATION sealpost");
	pop3_end(s);
	return CMD_DONE;
}

enum cmd_rc
pop3_cmd_stls(struct pop3_session *s, const struct str_view *args,
    size_t nargs, struct str_view rest)
{
	(void)args;
	(void)nargs;
	(void)rest;
	if (pop3_is_tls(s)) {
		pop3_err(s, "Command not permitted when TLS active");
		return CMD_DONE;
	}
	if (s->svc->tls_ctx == NULL || s->kind != SERVICE_POP3) {
		pop3_err(s, "[SYS/PERM] TLS not available");
		return CMD_DONE;
	}
	pop3_ok(s, "Begin TLS negotiation");
	/*
	 * RFC 2595 section 4 / RFC 3207 section 6: anything the client
	 * pipelined behind STLS arrived in the clear and is discarded.
	 */
	s->mode = PM_WAIT;
	conn_starttls(s->conn, s->svc->tls_ctx,
	    s->svc->cfg->timeout_tls_handshake);
	return CMD_ASYNC;
}
