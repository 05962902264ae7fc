package chain

import (
	"errors"
	"fmt"
)

// Non-rule outcomes of InsertBlock: not the block's fault, no peer penalty.
var (
	ErrKnownBlock    = errors.New("block already known")
	ErrUnknownParent = errors.New("unknown parent block")
	ErrFutureBlock   = errors.New("block time too far in the future")
	// ErrPrunedState: the block's parent state was pruned (a fork deeper than
	// the state retention), or StateAtBlock asked for such a state.
	ErrPrunedState = errors.New("state pruned")
	// ErrPrunedResult: a job result's data is older than resultRetention
	// and was pruned here (the result hash stays in the job record).
	ErrPrunedResult = errors.New("result data pruned")
)

// RuleCode names one consensus rule a block or transaction broke.
type RuleCode int

const (
	ErrBadNumber RuleCode = iota + 1
	ErrBadTime
	ErrBadDifficulty
	ErrBadTxRoot
	ErrBadResultRoot
	ErrBadStateRoot
	ErrBadSeal // wraps the consensus error (tile digest, losing ticket, ...)
	ErrBadSignature
	ErrBadChainID
	ErrBadNonce // includes a double spend: a second tx with a used nonce
	ErrInsufficientBalance
	ErrFeeTooLow
	ErrBadJob    // malformed program, bad expiry
	ErrBadResult // wraps the consensus error (Freivalds, shape)
	ErrDuplicateResult
	ErrJobNotPending
	ErrTooManyItems
	ErrBadTxKind     // a transaction kind this version does not know
	ErrBlockTooLarge // RLP encoding over maxBlockBytes: gossip and sync could not carry it
	ErrBadEthTx      // an Ethereum tx that is not a plain transfer quern can run (docs/protocol.md §13)
)

var ruleNames = map[RuleCode]string{
	ErrBadNumber: "bad number", ErrBadTime: "bad time", ErrBadDifficulty: "bad difficulty",
	ErrBadTxRoot: "bad tx root", ErrBadResultRoot: "bad result root", ErrBadStateRoot: "bad state root",
	ErrBadSeal: "bad seal", ErrBadSignature: "bad signature", ErrBadChainID: "wrong chain id",
	ErrBadNonce: "bad nonce", ErrInsufficientBalance: "insufficient balance", ErrFeeTooLow: "fee too low",
	ErrBadJob: "bad job", ErrBadResult: "bad job result", ErrDuplicateResult: "duplicate job result",
	ErrJobNotPending: "job not pending", ErrTooManyItems: "too many items", ErrBadTxKind: "unknown tx kind",
	ErrBlockTooLarge: "block too large", ErrBadEthTx: "bad ethereum tx",
}

func (c RuleCode) String() string {
	if s, ok := ruleNames[c]; ok {
		return s
	}
	return fmt.Sprintf("rule %d", int(c))
}

// RuleError is a consensus-rule violation: the block (or tx) is invalid and
// the peer that sent it is to blame. Err, when set, is the underlying cause
// (for example consensus.ErrLosingTicket) and is reachable with errors.Is.
type RuleError struct {
	Code RuleCode
	Desc string
	Err  error
}

func (e *RuleError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Desc, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Desc)
}

func (e *RuleError) Unwrap() error { return e.Err }

// Is lets errors.Is(err, &RuleError{Code: X}) match on the code alone.
func (e *RuleError) Is(target error) bool {
	t, ok := target.(*RuleError)
	return ok && t.Code == e.Code && t.Desc == "" && t.Err == nil
}

func ruleErr(code RuleCode, err error, format string, args ...any) *RuleError {
	return &RuleError{Code: code, Desc: fmt.Sprintf(format, args...), Err: err}
}

// IsRuleError reports whether err is (or wraps) a consensus-rule violation.
func IsRuleError(err error) bool {
	var re *RuleError
	return errors.As(err, &re)
}

// RuleCodeOf returns err's rule code, or 0 when err is not a rule error.
func RuleCodeOf(err error) RuleCode {
	var re *RuleError
	if errors.As(err, &re) {
		return re.Code
	}
	return 0
}
