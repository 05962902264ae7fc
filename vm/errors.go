package vm

import (
	"errors"
	"fmt"
)

// Sentinel errors for errors.Is; every error from Decode, Check and
// DecodeResult wraps exactly one of them.
var (
	ErrEncoding = errors.New("malformed program encoding")
	ErrVersion  = errors.New("unsupported program version")
	ErrKind     = errors.New("unknown program kind")
	ErrShape    = errors.New("bad tensor shape")
	ErrValue    = errors.New("tensor value out of range")
	ErrTooLarge = errors.New("program too large")
)

// CheckError is a rejected program: Msg says what is wrong and what to do,
// Kind is the sentinel it matches.
type CheckError struct {
	Kind error
	Msg  string
}

func (e *CheckError) Error() string { return e.Msg }
func (e *CheckError) Unwrap() error { return e.Kind }

func reject(kind error, format string, args ...any) error {
	return &CheckError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
