import type * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import type { ExecuteActionRequest as _botflow_v1_ExecuteActionRequest, ExecuteActionRequest__Output as _botflow_v1_ExecuteActionRequest__Output } from '../../botflow/v1/ExecuteActionRequest';
import type { ExecuteActionResponse as _botflow_v1_ExecuteActionResponse, ExecuteActionResponse__Output as _botflow_v1_ExecuteActionResponse__Output } from '../../botflow/v1/ExecuteActionResponse';
import type { RunFlowRequest as _botflow_v1_RunFlowRequest, RunFlowRequest__Output as _botflow_v1_RunFlowRequest__Output } from '../../botflow/v1/RunFlowRequest';
import type { RunFlowResponse as _botflow_v1_RunFlowResponse, RunFlowResponse__Output as _botflow_v1_RunFlowResponse__Output } from '../../botflow/v1/RunFlowResponse';
export interface FlowServiceClient extends grpc.Client {
    ExecuteAction(argument: _botflow_v1_ExecuteActionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_botflow_v1_ExecuteActionResponse__Output>): grpc.ClientUnaryCall;
    ExecuteAction(argument: _botflow_v1_ExecuteActionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_botflow_v1_ExecuteActionResponse__Output>): grpc.ClientUnaryCall;
    ExecuteAction(argument: _botflow_v1_ExecuteActionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_botflow_v1_ExecuteActionResponse__Output>): grpc.ClientUnaryCall;
    ExecuteAction(argument: _botflow_v1_ExecuteActionRequest, callback: grpc.requestCallback<_botflow_v1_ExecuteActionResponse__Output>): grpc.ClientUnaryCall;
    executeAction(argument: _botflow_v1_ExecuteActionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_botflow_v1_ExecuteActionResponse__Output>): grpc.ClientUnaryCall;
    executeAction(argument: _botflow_v1_ExecuteActionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_botflow_v1_ExecuteActionResponse__Output>): grpc.ClientUnaryCall;
    executeAction(argument: _botflow_v1_ExecuteActionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_botflow_v1_ExecuteActionResponse__Output>): grpc.ClientUnaryCall;
    executeAction(argument: _botflow_v1_ExecuteActionRequest, callback: grpc.requestCallback<_botflow_v1_ExecuteActionResponse__Output>): grpc.ClientUnaryCall;
    RunFlow(argument: _botflow_v1_RunFlowRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_botflow_v1_RunFlowResponse__Output>;
    RunFlow(argument: _botflow_v1_RunFlowRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_botflow_v1_RunFlowResponse__Output>;
    runFlow(argument: _botflow_v1_RunFlowRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_botflow_v1_RunFlowResponse__Output>;
    runFlow(argument: _botflow_v1_RunFlowRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_botflow_v1_RunFlowResponse__Output>;
}
export interface FlowServiceHandlers extends grpc.UntypedServiceImplementation {
    ExecuteAction: grpc.handleUnaryCall<_botflow_v1_ExecuteActionRequest__Output, _botflow_v1_ExecuteActionResponse>;
    RunFlow: grpc.handleServerStreamingCall<_botflow_v1_RunFlowRequest__Output, _botflow_v1_RunFlowResponse>;
}
export interface FlowServiceDefinition extends grpc.ServiceDefinition {
    ExecuteAction: MethodDefinition<_botflow_v1_ExecuteActionRequest, _botflow_v1_ExecuteActionResponse, _botflow_v1_ExecuteActionRequest__Output, _botflow_v1_ExecuteActionResponse__Output>;
    RunFlow: MethodDefinition<_botflow_v1_RunFlowRequest, _botflow_v1_RunFlowResponse, _botflow_v1_RunFlowRequest__Output, _botflow_v1_RunFlowResponse__Output>;
}
