package upstream_test

import (
	"testing"

	"github.com/foyer-id/foyer/internal/upstream"
	"github.com/foyer-id/foyer/internal/upstream/upstreamtest"
)

const (
	tenantA        = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
	tenantB        = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	personalTenant = upstreamtest.PersonalTenant
)

func microsoftUser(tid string, claims map[string]any) upstreamtest.User {
	c := map[string]any{"name": "Ada Lovelace", "tid": tid}
	for k, v := range claims {
		c[k] = v
	}
	return upstreamtest.User{Subject: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", Email: "Ada@Contoso.com", Claims: c}
}

func TestExchangeMicrosoftMultiTenant(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindMicrosoft})
	p := newProvider(t, srv.Config("microsoft"), srv.Client())
	for _, tid := range []string{tenantA, tenantB, personalTenant} {
		srv.SetUser(microsoftUser(tid, nil))
		claims, err := signIn(t, p, srv.Authorize)
		if err != nil {
			t.Fatalf("tenant %s: %v", tid, err)
		}
		if want := srv.URL() + "/" + tid + "/v2.0"; claims.Issuer != want {
			t.Errorf("issuer %q, want %q", claims.Issuer, want)
		}
		if claims.Email != "ada@contoso.com" || claims.EmailVerified {
			t.Errorf("email %q verified %v: Microsoft's email claim alone is not verified", claims.Email, claims.EmailVerified)
		}
	}
}

func TestExchangeMicrosoftRefusals(t *testing.T) {
	tests := []struct {
		name   string
		tenant string
		knobs  func(*upstreamtest.Knobs, string)
	}{
		{"issuer of another tenant than tid", "common", func(k *upstreamtest.Knobs, url string) {
			k.User = microsoftUser(tenantA, nil)
			k.Issuer = url + "/" + tenantB + "/v2.0"
		}},
		{"issuer of the template", "common", func(k *upstreamtest.Knobs, url string) {
			k.User = microsoftUser(tenantA, nil)
			k.Issuer = url + "/{tenantid}/v2.0"
		}},
		{"no tid", "common", func(k *upstreamtest.Knobs, url string) {
			k.User = microsoftUser(tenantA, nil)
			delete(k.User.Claims, "tid")
			k.Issuer = url + "/" + tenantA + "/v2.0"
		}},
		{"tid that is no tenant id", "common", func(k *upstreamtest.Knobs, url string) {
			k.User = microsoftUser("x/../"+tenantA, nil)
		}},
		{"work account for consumers", "consumers", func(k *upstreamtest.Knobs, url string) {
			k.User = microsoftUser(tenantA, nil)
		}},
		{"personal account for organizations", "organizations", func(k *upstreamtest.Knobs, url string) {
			k.User = microsoftUser(personalTenant, nil)
		}},
		{"another tenant for a single tenant", tenantA, func(k *upstreamtest.Knobs, url string) {
			k.User = microsoftUser(tenantB, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindMicrosoft, Tenant: tt.tenant})
			srv.Update(func(k *upstreamtest.Knobs) { tt.knobs(k, srv.URL()) })
			_, err := signIn(t, newProvider(t, srv.Config("microsoft"), srv.Client()), srv.Authorize)
			wantErr(t, err, upstream.ErrRefused)
		})
	}
}

func TestExchangeMicrosoftSingleTenant(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindMicrosoft, Tenant: tenantA})
	srv.SetUser(microsoftUser(tenantA, nil))
	p := newProvider(t, srv.Config("microsoft"), srv.Client())
	claims, err := signIn(t, p, srv.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Issuer != srv.Issuer {
		t.Errorf("issuer %q, want %q", claims.Issuer, srv.Issuer)
	}
}

func TestExchangeMicrosoftConsumers(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindMicrosoft, Tenant: "consumers"})
	srv.SetUser(microsoftUser(personalTenant, nil))
	if _, err := signIn(t, newProvider(t, srv.Config("microsoft"), srv.Client()), srv.Authorize); err != nil {
		t.Fatal(err)
	}
}

func TestMicrosoftEmailVerified(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindMicrosoft})
	p := newProvider(t, srv.Config("microsoft"), srv.Client())
	tests := []struct {
		name   string
		claims map[string]any
		want   bool
	}{
		{"email alone", nil, false},
		{"email_verified", map[string]any{"email_verified": true}, true},
		{"xms_edov", map[string]any{"xms_edov": true}, true},
		{"xms_edov as a string", map[string]any{"xms_edov": "true"}, true},
		{"xms_edov false", map[string]any{"xms_edov": false}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetUser(microsoftUser(tenantA, tt.claims))
			claims, err := signIn(t, p, srv.Authorize)
			if err != nil {
				t.Fatal(err)
			}
			if claims.EmailVerified != tt.want {
				t.Errorf("EmailVerified = %v, want %v", claims.EmailVerified, tt.want)
			}
		})
	}
}

func TestXMSEdovIsMicrosoftOnly(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	srv.SetUser(upstreamtest.User{Subject: "s", Email: "a@example.com", Claims: map[string]any{"xms_edov": true}})
	claims, err := signIn(t, newProvider(t, srv.Config("acme"), srv.Client()), srv.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	if claims.EmailVerified {
		t.Error("a generic provider's xms_edov verified the address")
	}
}
