package courier

import (
	"context"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// The mail of an app's journey takes the app's look and name when the app
// has its own (branding.apps), and says which app it was for; other mail,
// and mail of an app without a look of its own, keeps the domain's.
func TestMailBrandByApp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		o := NewOutbox(db, newClock().Now)
		o.Brand = &Brand{Accent: "#0b6e4f", LogoURL: "https://id.shop.example/assets/brand/logo?v=1", Support: "https://shop.example/help"}
		o.AppBrands = map[string]*Brand{"partner-web": {Accent: "#6b2fa3", ProductName: "Partner",
			LogoURL: "https://id.shop.example/assets/brand/logo?app=partner-web&v=2", Support: "https://partner.example/help"}}
		ctx := context.Background()

		m := codeMessage("alice@example.com", "428197")
		m.Data["Link"] = "https://id.shop.example/verification?flow=f1" // a button, in the accent
		m.App = "partner-web"
		app := mustGet(t, o, mustEnqueue(t, o, m))
		for _, want := range []string{`<img src="https://id.shop.example/assets/brand/logo?app=partner-web&amp;v=2" alt="Partner"`,
			"background-color:#6b2fa3;", `<a href="https://partner.example/help" style="color:#57606a;">Help</a>`, "Sent by Partner"} {
			if !strings.Contains(app.HTML, want) {
				t.Errorf("the app's mail lacks %s:\n%s", want, app.HTML)
			}
		}
		if !strings.Contains(app.Subject, "Partner") || strings.Contains(app.Subject, "Acme") || !strings.Contains(app.Text, "Partner") ||
			strings.Contains(app.HTML, "#0b6e4f") || strings.Contains(app.HTML, "shop.example/help") {
			t.Errorf("the app's mail shows the domain's brand: %q\n%s", app.Subject, app.HTML)
		}
		if app.App != "partner-web" {
			t.Errorf("stored app %q", app.App)
		}
		if _, ok := m.Data["ProductName"].(string); !ok || m.Data["ProductName"] != "Acme" {
			t.Error("branded changed the caller's data")
		}

		for _, other := range []string{"", "unbranded-app"} {
			m := codeMessage("bob@example.com", "428197")
			m.Data["Link"] = "https://id.shop.example/verification?flow=f2"
			m.App = other
			e := mustGet(t, o, mustEnqueue(t, o, m))
			if !strings.Contains(e.HTML, "background-color:#0b6e4f;") || !strings.Contains(e.HTML, "shop.example/help") ||
				!strings.Contains(e.Subject, "Acme") || e.App != other {
				t.Errorf("mail for app %q: %q %q\n%s", other, e.App, e.Subject, e.HTML)
			}
		}

		// A decoy costs what the app's mail does, and is never listed.
		if err := db.InTx(ctx, func(tx *store.Tx) error { return o.DecoyTx(ctx, tx, m) }); err != nil {
			t.Fatal(err)
		}
		list, err := o.List(ctx, 10)
		if err != nil || len(list) != 3 {
			t.Fatalf("list: %d, %v", len(list), err)
		}
	})
}
