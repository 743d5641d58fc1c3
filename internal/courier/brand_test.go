package courier

import (
	"strings"
	"testing"
)

// A domain's brand reaches its mail: the logo heads it, the accent colours
// its button and link, its links end it; without one, Foyer's look.
func TestMailBrand(t *testing.T) {
	o := &Outbox{Brand: &Brand{Accent: "#0b6e4f", LogoURL: "https://id.shop.example/assets/brand/logo?v=1",
		Support: "https://shop.example/help", Terms: "https://shop.example/terms"}}
	m := Message{Template: "registration_existing", To: "a@example.com", Data: map[string]any{
		"LoginURL": "https://id.shop.example/login", "ProductName": "Shop"}}
	r, err := Render(o.branded(m))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<img src="https://id.shop.example/assets/brand/logo?v=1" alt="Shop"`, "background-color:#0b6e4f;",
		`style="color:#0b6e4f;word-break:break-all;"`, `<a href="https://shop.example/help" style="color:#57606a;">Help</a>`,
		`<a href="https://shop.example/terms" style="color:#57606a;">Terms</a>`} {
		if !strings.Contains(r.HTML, want) {
			t.Errorf("branded mail lacks %s:\n%s", want, r.HTML)
		}
	}
	if strings.Contains(r.HTML, "Privacy") {
		t.Error("a link the brand does not have")
	}
	if _, ok := m.Data["Brand"]; ok {
		t.Error("branded changed the caller's data")
	}
	plain, err := Render(m)
	if err != nil || strings.Contains(plain.HTML, "<img") || !strings.Contains(plain.HTML, "background-color:#0b57d0;") {
		t.Fatalf("unbranded: %v\n%s", err, plain.HTML)
	}
}
