export interface RestartBotBlock {
}
export interface RestartBotBlock__Output {
}
