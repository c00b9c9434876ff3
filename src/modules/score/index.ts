export { scoreRouter, registerScoreOpenApi } from './score.router';
export * as scoreService from './score.service';
