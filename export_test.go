package kezekbot

// IsIINSeparatorForTest exposes isIINSeparator to the external tests.
var IsIINSeparatorForTest = isIINSeparator
