export interface BotRestarted {
    'botSessionId'?: (string);
}
export interface BotRestarted__Output {
    'botSessionId'?: (string);
}
