// Package courier owns Foyer's outgoing mail: the templates (verification
// and sign-in codes, "you already have an account"), the outbox that
// stores each rendered mail in the database before it is sent, the worker
// that delivers it, the senders (SMTP, or the dev mailbox), and the dev
// mailbox pages.
//
// A flow that needs to send mail calls Outbox.Enqueue, or EnqueueTx inside
// its own transaction: the mail is rendered and written to the outbox
// table and, once the transaction commits, handed over to the Worker
// running on the same Outbox, which sends it at once. Such mail is stored
// already claimed for that worker, so it needs no claim query; when the
// worker has more in hand than it can take, mail is queued instead and the
// worker is woken to claim it. If the mail server is down or answers with
// a temporary error, the worker retries with exponential backoff, so a
// flaky or restarting server loses no mail; once the server answers again,
// the first success makes the mail waiting for a retry due at once.
// Several Foyer nodes may share one database: each mail is claimed by one
// worker at a time (FOR UPDATE SKIP LOCKED on PostgreSQL, the single
// writer on SQLite) with a lease, marked with the claiming node's name
// (Outbox.Node). A node that dies mid-delivery, or before sending the mail
// handed over to it, takes that mail back as soon as it starts again under
// the same name; another node takes it when the lease runs out. Mail with
// a NotAfter (a code that expires) is given up once it passes, whether it
// waits in the outbox or in a worker's hands: it is never sent late.
//
// A newer code gives up the mail of the code it replaces (SupersedeTx),
// even one a worker holds already: just before each attempt the worker
// checks that its mail is still wanted, and it sends nothing to an address
// while an attempt of another mail to it may still be under way, so a
// customer never receives an old code after a newer one. Outbox.Fate tells
// a page whether a mail was given up, so that it stops saying it was sent.
//
// A mail is worded in the customer's language (Message.Lang) from the
// message catalogues (package i18n, ids mail.<template>.<part>): the
// templates hold the layout and the values, the catalogue the words. It
// is rendered when it is queued; its language goes with it, as <html
// lang> and the Content-Language header. A line break in a mail text is
// where the plain-text body wraps; the HTML body has a space there. Parts
// that the two bodies word differently have an id ending in _text and one
// ending in _html.
//
// Mail bodies hold one-time codes, so outside dev mode they are erased
// from the outbox as soon as the mail is sent or given up on, and they are
// never logged; logs carry the message id, template, attempt and error.
// In dev mode (Outbox.KeepBodies) they are kept for the dev mailbox.
//
// Wiring, in the server:
//
//	outbox := courier.NewOutbox(db, time.Now)
//	outbox.Node = nodeID     // the same after a restart, one per process
//	outbox.Catalog = catalog // i18n.Load(dir): the built-in texts and the operator's
//	sender, err := courier.NewSMTPSender(cfg.SMTPURL, cfg.MailFrom) // or courier.DevMailboxSender{Logger: log} in dev mode
//	worker := courier.NewWorker(outbox, sender, log)
//	go worker.Run(ctx)
//	id, err := outbox.Enqueue(ctx, courier.Message{Domain: d, Template: "verification_code", To: addr, Data: data, Lang: "de"})
//	(&courier.DevMailbox{Outbox: outbox, Logger: log}).Mount(mux) // dev mode only
//
// Tests deliver real mail to the capture server in package smtptest.
package courier
