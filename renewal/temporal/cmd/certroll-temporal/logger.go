package main

import (
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/log"
)

type workflowServiceListRequest = workflowservice.ListWorkflowExecutionsRequest

// quietLogger drops the client's own log lines; the commands say what
// matters.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}

var _ log.Logger = quietLogger{}
