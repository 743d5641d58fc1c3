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
// flaky or restarting server loses no mail. Several Foyer nodes may share
// one database: each mail is claimed by one worker at a time (FOR UPDATE
// SKIP LOCKED on PostgreSQL, the single writer on SQLite) with a lease, so
// a node that dies mid-delivery, or before sending the mail handed over to
// it, only delays its mail until the lease runs out. Mail with a NotAfter
// (a code that expires) is given up once it passes, whether it waits in
// the outbox or in a worker's hands: it is never sent late.
//
// Mail bodies hold one-time codes, so outside dev mode they are erased
// from the outbox as soon as the mail is sent or given up on, and they are
// never logged; logs carry the message id, template, attempt and error.
// In dev mode (Outbox.KeepBodies) they are kept for the dev mailbox.
//
// Wiring, in the server:
//
//	outbox := courier.NewOutbox(db, time.Now)
//	sender, err := courier.NewSMTPSender(cfg.SMTPURL, cfg.MailFrom) // or courier.DevMailboxSender{Logger: log} in dev mode
//	worker := courier.NewWorker(outbox, sender, log)
//	go worker.Run(ctx)
//	id, err := outbox.Enqueue(ctx, courier.Message{Domain: d, Template: "verification_code", To: addr, Data: data})
//	(&courier.DevMailbox{Outbox: outbox, Logger: log}).Mount(mux) // dev mode only
//
// Tests deliver real mail to the capture server in package smtptest.
package courier
