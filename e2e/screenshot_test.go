package e2e

import (
	"context"
	"flag"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// screenshotDir is where TestScreenshots writes its pictures; a relative
// path is taken from this package's directory (e2e/), where go test runs.
var screenshotDir = flag.String("screenshots", "", "write a screenshot of every hosted page state to this directory (TestScreenshots)")

// TestScreenshots photographs every page state of the accessibility tour
// in every variant, as <page>-<scheme>-<size>.png, and writes index.html,
// which shows them all side by side, so that a reviewer sees every page
// at once:
//
//	go test ./e2e -run TestScreenshots -screenshots=/tmp/shots
//
// Without -screenshots it skips.
func TestScreenshots(t *testing.T) {
	if *screenshotDir == "" {
		t.Skip("set -screenshots=DIR to photograph every hosted page")
	}
	requireChromium(t)
	dir, err := filepath.Abs(*screenshotDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var shots []shotRow
	tourPages(t, func(ctx context.Context, name string) {
		row := shotRow{Page: name, Path: location(t, ctx).Path}
		for _, v := range variants {
			v.apply(t, ctx)
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot of %s (%s): %v", name, v, err)
			}
			file := fmt.Sprintf("%s-%s-%s.png", name, v.scheme, v.size)
			if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
				t.Fatal(err)
			}
			row.Shots = append(row.Shots, shot{File: file, Variant: v.String(), Phone: v.mobile})
		}
		shots = append(shots, row)
	})
	var index strings.Builder
	if err := shotIndex.Execute(&index, shots); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(index.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d pages, %d screenshots: %s", len(shots), len(shots)*len(variants), filepath.Join(dir, "index.html"))
}

// shotRow is one page state's screenshots, one per variant.
type shotRow struct {
	Page, Path string
	Shots      []shot
}

type shot struct {
	File, Variant string
	Phone         bool
}

// shotIndex lays every page's screenshots out in a row: desktop ones
// scaled down, phone ones at their size in CSS pixels.
var shotIndex = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Foyer: every hosted page</title>
<style>
body { margin: 1.5rem; font: 14px/1.4 system-ui, sans-serif; background: #e9eaee; color: #1a1a1a; }
nav { columns: 14rem; margin-bottom: 2rem; }
section { margin-bottom: 3rem; }
h2 { font-size: 1.1rem; margin: 0 0 .5rem; }
h2 code { font-weight: 400; color: #555; }
.row { display: flex; gap: 1rem; align-items: flex-start; overflow-x: auto; }
figure { margin: 0; }
figcaption { margin-bottom: .25rem; color: #555; }
img { display: block; border: 1px solid #bbb; background: #fff; }
img.desktop { width: 480px; }
img.phone { width: 195px; }
</style>
</head>
<body>
<h1>Every hosted page, in light and dark, on a desktop and a phone</h1>
<nav>{{range .}}<a href="#{{.Page}}">{{.Page}}</a><br>{{end}}</nav>
{{range .}}<section id="{{.Page}}">
<h2>{{.Page}} <code>{{.Path}}</code></h2>
<div class="row">{{range .Shots}}<figure><figcaption>{{.Variant}}</figcaption><a href="{{.File}}"><img class="{{if .Phone}}phone{{else}}desktop{{end}}" src="{{.File}}" alt="{{.Variant}}" loading="lazy"></a></figure>{{end}}</div>
</section>
{{end}}
</body>
</html>
`))
