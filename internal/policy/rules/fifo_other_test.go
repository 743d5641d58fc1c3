//go:build !unix

package rules

import "errors"

func mkfifo(string) error { return errors.New("not on this system") }
