import type { MessageSent as _botflow_v1_MessageSent, MessageSent__Output as _botflow_v1_MessageSent__Output } from '../../botflow/v1/MessageSent';
import type { NoteAdded as _botflow_v1_NoteAdded, NoteAdded__Output as _botflow_v1_NoteAdded__Output } from '../../botflow/v1/NoteAdded';
import type { VariableChanged as _botflow_v1_VariableChanged, VariableChanged__Output as _botflow_v1_VariableChanged__Output } from '../../botflow/v1/VariableChanged';
import type { ActionFinished as _botflow_v1_ActionFinished, ActionFinished__Output as _botflow_v1_ActionFinished__Output } from '../../botflow/v1/ActionFinished';
import type { WarningRaised as _botflow_v1_WarningRaised, WarningRaised__Output as _botflow_v1_WarningRaised__Output } from '../../botflow/v1/WarningRaised';
import type { BotRestarted as _botflow_v1_BotRestarted, BotRestarted__Output as _botflow_v1_BotRestarted__Output } from '../../botflow/v1/BotRestarted';
import type { FlowFinished as _botflow_v1_FlowFinished, FlowFinished__Output as _botflow_v1_FlowFinished__Output } from '../../botflow/v1/FlowFinished';
export interface RunFlowResponse {
    'sequence'?: (number);
    'blockId'?: (string);
    'messageSent'?: (_botflow_v1_MessageSent | null);
    'noteAdded'?: (_botflow_v1_NoteAdded | null);
    'variableChanged'?: (_botflow_v1_VariableChanged | null);
    'actionFinished'?: (_botflow_v1_ActionFinished | null);
    'warning'?: (_botflow_v1_WarningRaised | null);
    'botRestarted'?: (_botflow_v1_BotRestarted | null);
    'finished'?: (_botflow_v1_FlowFinished | null);
    'event'?: "messageSent" | "noteAdded" | "variableChanged" | "actionFinished" | "warning" | "botRestarted" | "finished";
}
export interface RunFlowResponse__Output {
    'sequence'?: (number);
    'blockId'?: (string);
    'messageSent'?: (_botflow_v1_MessageSent__Output);
    'noteAdded'?: (_botflow_v1_NoteAdded__Output);
    'variableChanged'?: (_botflow_v1_VariableChanged__Output);
    'actionFinished'?: (_botflow_v1_ActionFinished__Output);
    'warning'?: (_botflow_v1_WarningRaised__Output);
    'botRestarted'?: (_botflow_v1_BotRestarted__Output);
    'finished'?: (_botflow_v1_FlowFinished__Output);
}
