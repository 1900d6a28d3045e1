package main

import (
	"strconv"

	signerlink "github.com/kezekbot/kezekbot/signer-link"
)

// linkLimitConfig are the attempt limits of signing links (issue 12).
type linkLimitConfig struct {
	MaxFailed int             // failed signatures a link takes before it dies
	IssueRate signerlink.Rate // new links per chat
}

var linkLimitConfigFields = []configField{
	{"KEZEKBOT_LINK_MAX_FAILED", "link-max-failed", strconv.Itoa(signerlink.DefaultMaxFailedAttempts),
		"failed signatures (wrong key, wrong IIN, a bad signature) a signing link takes before it dies; the chat is told to ask for a new one",
		intField(1, 100, func(c *Config) *int { return &c.links.MaxFailed })},
	{"KEZEKBOT_LINK_ISSUE_RATE", "link-issue-rate", signerlink.DefaultLinkIssueRate,
		"new signing links one chat gets: N/DURATION,BURST or off",
		rateField(func(c *Config) *signerlink.Rate { return &c.links.IssueRate })},
}

func init() { configFields = append(configFields, linkLimitConfigFields...) }
